"""sstat: what the running steps of jobs have used so far, as Slurm 22.05's sstat prints it.

The controller asks the agents of each job's nodes (JobService.JobUsage); each
task (a step task, or the batch script as the step "batch") is one process tree
measured now: CPU time, resident and virtual size with their peaks, major page
faults and bytes read and written. Per step: the largest and smallest task's
value with its node and task, the average per task, the task count. What JEM
does not measure reads as Slurm prints an unmeasured value: CPU frequency and
energy 0, a requested CPU frequency Unknown for a step (0 for the batch step).

`-j JOB` shows the job's lowest-numbered running step (not the batch step);
`-a` all its running steps, the batch step first; `-j JOB.STEP` or `JOB.batch`
that step. An unknown job, one without running steps, or another user's job
is reported on stderr as sstat reports it, with exit code 0.
"""

import sys

import hostlist

from jem_slurm import layout, sacct_fields
from jem_slurm.command import Failure, connect, is_digits, run, split_list
from jem_slurm.getopt import NONE, REQUIRED, Option, OptionTable, UsageError

PROG = "sstat"
VERSION = "slurm-wlm 22.05.8"
BATCH_STEP = -1   # (jem.model.stepusage.BATCH_STEP)
_O = Option
OPTIONS = OptionTable([
    _O("allsteps", "a", NONE), _O("helpformat", "e", NONE), _O("help", "h", NONE), _O("pidformat", "i", NONE),
    _O("jobs", "j", REQUIRED), _O("noheader", "n", NONE), _O("noconvert", "", NONE), _O("format", "o", REQUIRED),
    _O("fields", "", REQUIRED, "format"), _O("parsable", "p", NONE), _O("parsable2", "P", NONE),
    _O("usage", "", NONE), _O("verbose", "v", NONE), _O("version", "V", NONE),
])
HELP = 'sstat [<OPTION>] -j <job(.stepid)>                                          \n    Valid <OPTION> values are:                                              \n      -a, --allsteps:                                                       \n                   Print all steps for the given job(s) when no step is     \n                   specified.                                               \n      -e, --helpformat:                                                     \n\t           Print a list of fields that can be specified with the    \n\t           \'--format\' option                                        \n     -h, --help:   Print this description of use.                           \n     -i, --pidformat:                                                       \n                   Predefined format to list the pids running for each      \n                   job step.  (JobId,Nodes,Pids)                            \n     -j, --jobs:                                                            \n\t           Format is <job(.step)>. Stat this job step               \n                   or comma-separated list of job steps. This option is     \n                   required.  The step portion will default to the lowest   \n                   numbered (not batch, extern, etc) step running if not    \n                   specified, unless the --allsteps flag is set where not   \n                   specifying a step will result in all running steps       \n                   to be displayed. A step id of \'batch\' will display the   \n                   information about the batch step. A step id of \'extern\'  \n                   will display the information about the extern step       \n                   when using PrologFlags=contain.                          \n     -n, --noheader:                                                        \n\t           No header will be added to the beginning of output.      \n                   The default is to print a header.                        \n     --noconvert:  Don\'t convert units from their original type             \n\t\t   (e.g. 2048M won\'t be converted to 2G).                   \n     -o, --format:                                                          \n\t           Comma separated list of fields. (use "--helpformat"    \n                   for a list of available fields).                         \n     -p, --parsable: output will be \'|\' delimited with a \'|\' at the end     \n     -P, --parsable2: output will be \'|\' delimited without a \'|\' at the end \n     --usage:      Display brief usage message.                             \n     -v, --verbose:                                                         \n\t           Primarily for debugging purposes, report the state of    \n                   various variables during processing.                     \n     -V, --version: Print version.                                          \n\n'
USAGE = 'Usage: sstat [options] -j <job(.stepid)>\n\tUse --help for help\n'
DEFAULT_FORMAT = ("JobID,MaxVMSize,MaxVMSizeNode,MaxVMSizeTask,AveVMSize,MaxRSS,MaxRSSNode,MaxRSSTask,AveRSS,"
                  "MaxPages,MaxPagesNode,MaxPagesTask,AvePages,MinCPU,MinCPUNode,MinCPUTask,AveCPU,NTasks,"
                  "AveCPUFreq,ReqCPUFreqMin,ReqCPUFreqMax,ReqCPUFreqGov,ConsumedEnergy,MaxDiskRead,MaxDiskReadNode,"
                  "MaxDiskReadTask,AveDiskRead,MaxDiskWrite,MaxDiskWriteNode,MaxDiskWriteTask,AveDiskWrite,"
                  "TRESUsageInAve,TRESUsageInMax,TRESUsageInMaxNode,TRESUsageInMaxTask,TRESUsageInMin,"
                  "TRESUsageInMinNode,TRESUsageInMinTask,TRESUsageInTot,TRESUsageOutAve,TRESUsageOutMax,"
                  "TRESUsageOutMaxNode,TRESUsageOutMaxTask,TRESUsageOutMin,TRESUsageOutMinNode,TRESUsageOutMinTask,"
                  "TRESUsageOutTot")
PID_FORMAT = "JobID,Nodelist,Pids"
# Field -> default width, as sstat 22.05 prints them (JobID alone is left-justified).
WIDTHS = {
    "AveCPU": 10, "AveCPUFreq": 10, "AveDiskRead": 12, "AveDiskWrite": 12, "AvePages": 10, "AveRSS": 10,
    "AveVMSize": 10, "ConsumedEnergy": 14, "ConsumedEnergyRaw": 17, "JobID": 12, "MaxDiskRead": 12,
    "MaxDiskReadNode": 15, "MaxDiskReadTask": 15, "MaxDiskWrite": 12, "MaxDiskWriteNode": 16, "MaxDiskWriteTask": 16,
    "MaxPages": 8, "MaxPagesNode": 12, "MaxPagesTask": 14, "MaxRSS": 10, "MaxRSSNode": 10, "MaxRSSTask": 10,
    "MaxVMSize": 10, "MaxVMSizeNode": 14, "MaxVMSizeTask": 14, "MinCPU": 10, "MinCPUNode": 10, "MinCPUTask": 10,
    "Nodelist": 20, "NTasks": 8, "Pids": 20, "ReqCPUFreq": 10, "ReqCPUFreqMin": 13, "ReqCPUFreqMax": 13,
    "ReqCPUFreqGov": 13, "TRESUsageInAve": 14, "TRESUsageInMax": 14, "TRESUsageInMaxNode": 18,
    "TRESUsageInMaxTask": 18, "TRESUsageInMin": 14, "TRESUsageInMinNode": 18, "TRESUsageInMinTask": 18,
    "TRESUsageInTot": 14, "TRESUsageOutAve": 15, "TRESUsageOutMax": 15, "TRESUsageOutMaxNode": 19,
    "TRESUsageOutMaxTask": 19, "TRESUsageOutMin": 15, "TRESUsageOutMinNode": 19, "TRESUsageOutMinTask": 19,
    "TRESUsageOutTot": 15,
}
BY_LOWER = {name.lower(): name for name in WIDTHS}


def count(value: float) -> str:
    """A count or a byte figure as sstat prints it: the largest unit that divides it exactly
    (Slurm's convert_num_unit), two decimals for a fraction, "%.2fM" at or under 1.

    >>> count(0), count(1), count(44118), count(2048), count(1.5)
    ('0', '1.00M', '44118', '2K', '1.50')
    """
    if value <= 0:
        return "0"
    if value <= 1:
        return f"{value:.2f}M"
    units, index = ("", "K", "M", "G", "T", "P"), 0
    while value >= 1024 and value == int(value) and int(value) % 1024 == 0 and index < len(units) - 1:
        value /= 1024
        index += 1
    return (f"{int(value)}" if value == int(value) else f"{value:.2f}") + units[index]


def _step_text(step) -> str:
    return f"{step.job_id}.batch" if step.step_id == BATCH_STEP else f"{step.job_id}.{step.step_id}"


class _Row:
    """One step's cells."""

    def __init__(self, step, *, noconvert: bool):
        self.step = step
        self.f = step.figures
        self.noconvert = noconvert

    def size(self, kib: float) -> str:
        return str(int(kib) * 1024) if self.noconvert else sacct_fields.kib(int(kib))

    def ave(self, name: str) -> float:
        figure = self.f[name]
        return figure.total // max(1, self.step.n_tasks)

    def tres(self, which: str) -> str:
        """TRESUsageIn{Ave,Max,Min,Tot,MaxNode,...}: the measures in Slurm's TRES order."""
        f, ave = self.f, self.ave
        if which in ("MaxNode", "MinNode"):
            at = "max_node" if which == "MaxNode" else "min_node"
            nodes = {k: getattr(f[k], at) for k in ("cpu_us", "read_bytes", "rss_kib", "pages", "vmsize_kib")}
            return (f"cpu={nodes['cpu_us']},energy={nodes['cpu_us']},fs/disk={nodes['read_bytes']},"
                    f"mem={nodes['rss_kib']},pages={nodes['pages']},vmem={nodes['vmsize_kib']}")
        if which in ("MaxTask", "MinTask"):
            at = "max_task" if which == "MaxTask" else "min_task"
            tasks = {k: getattr(f[k], at) for k in ("cpu_us", "read_bytes", "rss_kib", "pages", "vmsize_kib")}
            return (f"cpu={sacct_fields.hms(tasks['cpu_us'])},fs/disk={tasks['read_bytes']},mem={tasks['rss_kib']},"
                    f"pages={tasks['pages']},vmem={tasks['vmsize_kib']}")
        if which == "Ave":
            values = (ave("cpu_us"), ave("read_bytes"), ave("ave_rss_kib"), ave("pages"), ave("ave_vmsize_kib"))
        elif which == "Tot":
            values = (f["cpu_us"].total, f["read_bytes"].total, f["ave_rss_kib"].total, f["pages"].total,
                      f["ave_vmsize_kib"].total)
        else:
            at = which.lower()
            values = tuple(getattr(f[k], at) for k in ("cpu_us", "read_bytes", "rss_kib", "pages", "vmsize_kib"))
        cpu, read, mem, pages, vmem = values
        return (f"cpu={sacct_fields.hms(int(cpu) // 1_000_000)},energy=0,fs/disk={int(read)},mem={self.size(mem)},"
                f"pages={int(pages)},vmem={self.size(vmem)}")

    def tres_out(self, which: str) -> str:
        w = self.f["write_bytes"]
        if which in ("MaxNode", "MinNode"):
            node = w.max_node if which == "MaxNode" else w.min_node
            return f"energy={node},fs/disk={node}"
        if which in ("MaxTask", "MinTask"):
            return f"fs/disk={w.max_task if which == 'MaxTask' else w.min_task}"
        value = {"Ave": self.ave("write_bytes"), "Tot": w.total, "Max": w.max, "Min": w.min}[which]
        return f"energy=0,fs/disk={int(value)}"

    def cell(self, field: str) -> str:
        step, f = self.step, self.f
        is_batch = step.step_id == BATCH_STEP
        simple = {
            "JobID": lambda: _step_text(step),
            "MaxVMSize": lambda: self.size(f["vmsize_kib"].max),
            "AveVMSize": lambda: self.size(self.ave("ave_vmsize_kib")),
            "MaxRSS": lambda: self.size(f["rss_kib"].max), "AveRSS": lambda: self.size(self.ave("ave_rss_kib")),
            "MaxPages": lambda: count(f["pages"].max), "AvePages": lambda: count(self.ave("pages")),
            "MinCPU": lambda: sacct_fields.hms(f["cpu_us"].min // 1_000_000),
            "AveCPU": lambda: sacct_fields.hms(int(self.ave("cpu_us")) // 1_000_000),
            "NTasks": lambda: str(step.n_tasks), "AveCPUFreq": lambda: "0",
            "ReqCPUFreq": lambda: "0" if is_batch else "Unknown",
            "ReqCPUFreqMin": lambda: "0" if is_batch else "Unknown",
            "ReqCPUFreqMax": lambda: "0" if is_batch else "Unknown",
            "ReqCPUFreqGov": lambda: "0" if is_batch else "Unknown",
            "ConsumedEnergy": lambda: "0", "ConsumedEnergyRaw": lambda: "0",
            "MaxDiskRead": lambda: self.disk(f["read_bytes"].max),
            "AveDiskRead": lambda: self.disk(self.ave("read_bytes")),
            "MaxDiskWrite": lambda: self.disk(f["write_bytes"].max),
            "AveDiskWrite": lambda: self.disk(self.ave("write_bytes")),
            "Nodelist": lambda: hostlist.collect_hostlist(list(step.nodes)),
            "Pids": lambda: ",".join(str(pid) for pid in step.pids),
        }
        if field in simple:
            return simple[field]()
        for prefix, key in (("MaxVMSize", "vmsize_kib"), ("MaxRSS", "rss_kib"), ("MaxPages", "pages"),
                            ("MinCPU", "cpu_us"), ("MaxDiskRead", "read_bytes"), ("MaxDiskWrite", "write_bytes")):
            if field == prefix + "Node":
                return f[key].min_node if prefix == "MinCPU" else f[key].max_node
            if field == prefix + "Task":
                return str(f[key].min_task if prefix == "MinCPU" else f[key].max_task)
        if field.startswith("TRESUsageOut"):
            return self.tres_out(field[len("TRESUsageOut"):])
        return self.tres(field[len("TRESUsageIn"):])

    def disk(self, value: float) -> str:
        return str(int(value)) if self.noconvert else count(value)


def _columns(text: str) -> list[tuple[str, int, bool]]:
    """-o "name[%[-]width],..." -> [(field, width, is_left)]."""
    return layout.accounting_columns(text, BY_LOWER, lambda field: (WIDTHS[field], field == "JobID"),
                                     lambda name: Failure(f'Invalid field requested: "{name}"'))


def _targets(texts: list[str]) -> list[tuple[int, str | None]]:
    """-j "JOB[.STEP],..." -> [(job id, step text or None)]."""
    targets = []
    for text in split_list(texts):
        job, _, step = text.partition(".")
        if not is_digits(job) or (step and not (is_digits(step) or step in ("batch", "extern"))):
            raise Failure(f"Bad job/step specified: {text}", prefix="fatal: ")
        targets.append((int(job), step or None))
    return targets


def help_lines() -> list[str]:
    """--helpformat: the fields in sstat's order, four to a line, each in 19 columns."""
    names = ["AveCPU", "AveCPUFreq", "AveDiskRead", "AveDiskWrite", "AvePages", "AveRSS", "AveVMSize",
             "ConsumedEnergy", "ConsumedEnergyRaw", "JobID", "MaxDiskRead", "MaxDiskReadNode", "MaxDiskReadTask",
             "MaxDiskWrite", "MaxDiskWriteNode", "MaxDiskWriteTask", "MaxPages", "MaxPagesNode", "MaxPagesTask",
             "MaxRSS", "MaxRSSNode", "MaxRSSTask", "MaxVMSize", "MaxVMSizeNode", "MaxVMSizeTask", "MinCPU",
             "MinCPUNode", "MinCPUTask", "Nodelist", "NTasks", "Pids", "ReqCPUFreq", "ReqCPUFreqMin",
             "ReqCPUFreqMax", "ReqCPUFreqGov", "TRESUsageInAve", "TRESUsageInMax", "TRESUsageInMaxNode",
             "TRESUsageInMaxTask", "TRESUsageInMin", "TRESUsageInMinNode", "TRESUsageInMinTask", "TRESUsageInTot",
             "TRESUsageOutAve", "TRESUsageOutMax", "TRESUsageOutMaxNode", "TRESUsageOutMaxTask",
             "TRESUsageOutMin", "TRESUsageOutMinNode", "TRESUsageOutMinTask", "TRESUsageOutTot"]
    return [" ".join(name.ljust(19) for name in names[i:i + 4]) for i in range(0, len(names), 4)]


def _chosen(steps: list, job_id: int, step: str | None, *, all_steps: bool) -> tuple[list, str | None]:
    """The rows for one -j entry, and the error sstat prints when there are none."""
    if step == "batch":
        chosen = [s for s in steps if s.step_id == BATCH_STEP]
    elif step is not None:
        chosen = [s for s in steps if step.isdigit() and s.step_id == int(step)]
    elif all_steps:
        return steps, None
    else:
        return [s for s in steps if s.step_id != BATCH_STEP][:1], None
    return chosen, None if chosen else f"StepId={job_id}.{step} not found running."


def _sstat(argv: list[str]) -> int:
    try:
        found, operands = OPTIONS.parse(argv, stop_at_operand=False)
    except UsageError as exc:
        raise Failure(str(exc), prefix="") from None
    given: dict[str, str | None] = {}
    jobs: list[str] = []
    for option, value in found:
        if option.name == "jobs":
            jobs.append(value or "")
        else:
            given[option.name] = value
    if "help" in given:
        sys.stdout.write(HELP)
        return 0
    if "usage" in given:
        sys.stdout.write(USAGE)
        return 0
    if "version" in given:
        print(VERSION)
        return 0
    if "helpformat" in given:
        print("\n".join(help_lines()))
        return 0
    targets = _targets(jobs + operands)
    if not targets:
        raise Failure("You didn't give me any jobs to stat.")
    fmt = given.get("format") or (PID_FORMAT if "pidformat" in given else DEFAULT_FORMAT)
    columns = _columns(fmt)
    report = connect().job_usage(list(dict.fromkeys(job_id for job_id, _ in targets)))
    by_job: dict[int, list] = {}
    for step in report.steps:
        by_job.setdefault(step.job_id, []).append(step)
    problems = dict(report.problems)
    _print(columns, targets, by_job, problems, given)
    return 0


def _print(columns, targets, by_job: dict, problems: dict, given: dict) -> None:
    delimiter = "|" if "parsable" in given or "parsable2" in given else None
    trailer = "|" if "parsable" in given else ""

    def line(values: list[str]) -> str:
        if delimiter:
            return delimiter.join(values) + trailer
        return "".join(layout.accounting_cell(v, w, left) + " " for v, (_, w, left) in zip(values, columns))

    if "noheader" not in given:   # (a header cut to its width has no "+")
        print(line([name[:w] for name, w, _ in columns]) if not delimiter else line([n for n, _, _ in columns]))
        if not delimiter:
            print("".join("-" * w + " " for _, w, _ in columns))
    noconvert = "noconvert" in given
    for job_id, step in targets:
        problem = problems.get(job_id)
        if problem is not None:
            _warn(_PROBLEM_LINES[problem.value](job_id, step))
            continue
        rows, error = _chosen(by_job.get(job_id, []), job_id, step, all_steps="allsteps" in given)
        if error:
            _warn(error)
        for row in (_Row(s, noconvert=noconvert) for s in rows):
            print(line([row.cell(name) for name, _, _ in columns]))
        sys.stdout.flush()


def _step_name(job_id: int, step: str | None) -> str:
    return f"StepId={job_id}.{step or 0}"


_PROBLEM_LINES = {
    "not_found": lambda job_id, step: [f"couldn't get steps for job {job_id}"],
    "not_running": lambda job_id, step: [f"No steps running for job {job_id}"],
    "not_permitted": lambda job_id, step: [
        "slurm_job_step_stat: there was an error with the request rc = Invalid user id",
        f"problem getting step_layout for {_step_name(job_id, step)}: Invalid user id"],
}


def _warn(lines) -> None:
    sys.stdout.flush()
    for text in [lines] if isinstance(lines, str) else lines:
        print(f"{PROG}: error: {text}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    return run(PROG, _sstat, argv)


if __name__ == "__main__":
    sys.exit(main())
