"""The Slurm command lines whose output JEM must match, and how outputs are normalized for comparison.

Run as a script with a real Slurm first on PATH (see ../shared/slurm-ref) to
(re)capture the golden files:

    python tests/e2e/slurm_cases.py tests/e2e/golden/slurm.json

It submits four jobs first (held: `sbatch -H`, failed: exits 3, done: exits 0,
array: a held array 1-4%2, each with the user's name as account), waits for two to reach
accounting, then runs every case. Placeholders {held} {failed} {done} {array} in a case
stand for those job ids; in the captured text, job ids, times, the user and the working directory
become placeholders too, so the same file compares against any cluster.
"""

import json
import os
import re
import subprocess
import sys
import time

# The account is the user's name: Slurm's reference cluster has an account per user (root's is "root"),
# and the normalization then treats both alike.
SETUP = {
    "held": ["sbatch", "--parsable", "-H", "-A", "{user}", "-o", "/dev/null", "--wrap", "true"],
    "failed": ["sbatch", "--parsable", "-J", "fail3", "-A", "{user}", "-o", "/dev/null", "--wrap", "exit 3"],
    "done": ["sbatch", "--parsable", "-J", "okjob", "-A", "{user}", "-o", "/dev/null", "--wrap", "true"],
    "array": ["sbatch", "--parsable", "-H", "-J", "arr", "--array=1-4%2", "-A", "{user}", "-o", "/dev/null",
              "--wrap", "true"],
}
_PLACEHOLDERS = "|".join(SETUP)
NO_SHEBANG = "echo hi\n"

# (name, argv, stdin) -- argv[0] is the command. Cases named sbatch_error_* must create no job.
CASES = [
    ("sbatch_error_bad_time", ["sbatch", "--time=abc", "--wrap", "true"], None),
    ("sbatch_error_bad_time_short", ["sbatch", "-t", "1:xx", "--wrap", "true"], None),
    ("sbatch_error_negative_memory", ["sbatch", "--mem=-5", "--wrap", "true"], None),
    ("sbatch_error_bad_memory", ["sbatch", "--mem=lots", "--wrap", "true"], None),
    ("sbatch_error_negative_mem_per_cpu", ["sbatch", "--mem-per-cpu=-1", "--wrap", "true"], None),
    ("sbatch_error_missing_script", ["sbatch", "/nonexistent/script.sh"], None),
    ("sbatch_error_no_shebang", ["sbatch"], NO_SHEBANG),
    ("sbatch_error_empty_script", ["sbatch"], ""),
    ("sbatch_error_unknown_partition", ["sbatch", "-p", "nosuch", "--wrap", "true"], None),
    ("sbatch_error_unknown_option", ["sbatch", "--bogus", "--wrap", "true"], None),
    ("sbatch_error_unknown_short_option", ["sbatch", "-Z", "--wrap", "true"], None),
    ("sbatch_error_bad_node_count", ["sbatch", "-N", "abc", "--wrap", "true"], None),
    ("sbatch_error_bad_ntasks", ["sbatch", "-n", "abc", "--wrap", "true"], None),
    ("sbatch_error_zero_cpus_per_task", ["sbatch", "-c", "0", "--wrap", "true"], None),
    ("sbatch_error_bad_begin", ["sbatch", "--begin=garbage", "--wrap", "true"], None),
    ("sbatch_error_bad_signal", ["sbatch", "--signal=abc", "--wrap", "true"], None),
    ("sbatch_error_bad_open_mode", ["sbatch", "--open-mode=bad", "--wrap", "true"], None),
    ("sbatch_error_mem_and_mem_per_cpu", ["sbatch", "--mem=10", "--mem-per-cpu=10", "--wrap", "true"], None),
    ("sbatch_error_bad_array", ["sbatch", "--array=abc", "--wrap", "true"], None),
    ("sbatch_error_backwards_array", ["sbatch", "--array=5-3", "--wrap", "true"], None),
    ("sbatch_error_bad_dependency_type", ["sbatch", "--dependency=foo:1", "--wrap", "true"], None),
    ("sbatch_error_dependency_without_id", ["sbatch", "--dependency=afterok", "--wrap", "true"], None),
    ("squeue_array_collapsed", ["squeue", "-j", "{array}"], None),
    ("squeue_array_one_row_per_task", ["squeue", "-r", "-j", "{array}"], None),
    ("squeue_array_fields", ["squeue", "-j", "{array}", "-o", "%i|%F|%K|%j|%T|%r"], None),
    ("sacct_array_pending", ["sacct", "-X", "-j", "{array}", "-o", "JobID%20,JobName,State"], None),
    ("scontrol_requeue_pending", ["scontrol", "requeue", "{held}"], None),
    ("scontrol_requeue_unknown", ["scontrol", "requeue", "999999"], None),
    ("squeue_default", ["squeue", "-j", "{held}"], None),
    ("squeue_long", ["squeue", "-l", "-j", "{held}"], None),
    ("squeue_noheader", ["squeue", "-h", "-j", "{held}"], None),
    ("squeue_start", ["squeue", "--start", "-j", "{held}"], None),
    ("squeue_format_default_spelled_out", ["squeue", "-j", "{held}", "-o", "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"],
     None),
    ("squeue_format_letters", ["squeue", "-j", "{held}", "-o",
                               "%i|%j|%u|%t|%T|%M|%l|%D|%R|%P|%N|%C|%V|%S|%e|%r|%Z|%.5i|%-3j|%4P|lit"], None),
    ("squeue_Format", ["squeue", "-j", "{held}", "-O",
                       "JobID,Name,State,UserName,Partition,NumNodes,NumCPUs,TimeLimit,TimeUsed,Reason"], None),
    ("squeue_Format_widths", ["squeue", "-j", "{held}", "-O", "Name:5,StateCompact:.4,JobID:.10"], None),
    ("squeue_error_bad_state", ["squeue", "-t", "bogus"], None),
    ("squeue_error_unknown_job", ["squeue", "-j", "999999"], None),
    ("squeue_unknown_partition", ["squeue", "-p", "nosuch"], None),
    ("sacct_default", ["sacct", "-j", "{failed},{done}"], None),
    ("sacct_repeated_j", ["sacct", "-j", "{failed}", "-j", "{done}"], None),
    ("sacct_allocations", ["sacct", "-X", "-j", "{failed},{done}"], None),
    ("sacct_parsable", ["sacct", "-p", "-j", "{failed}"], None),
    ("sacct_parsable2_noheader", ["sacct", "-P", "-n", "-j", "{failed}"], None),
    ("sacct_format_widths", ["sacct", "-j", "{failed}", "-o", "jobid%-20,jobname%30,state%5,exitcode,allocCPUS"],
     None),
    ("sacct_format_fields", ["sacct", "-X", "-j", "{done}", "-o",
                             "JobID,JobName,Partition,State,ExitCode,Elapsed,NNodes,NCPUS,User,Timelimit,Start,End,"
                             "Submit,WorkDir,CPUTime"], None),
    ("sacct_state_filter", ["sacct", "-X", "-j", "{failed},{done}", "-s", "F"], None),
    ("sacct_name_filter", ["sacct", "-X", "-j", "{failed},{done}", "--name", "okjob"], None),
    ("sacct_error_bad_field", ["sacct", "-o", "bogus"], None),
    ("sacct_error_bad_state", ["sacct", "-s", "bogus"], None),
    ("sacct_error_bad_time", ["sacct", "-S", "garbage"], None),
    ("sinfo_partition", ["sinfo", "-p", "debug"], None),
    ("sinfo_nodes", ["sinfo", "-N", "-p", "debug"], None),
    ("sinfo_long", ["sinfo", "-l", "-p", "debug"], None),
    ("sinfo_reasons", ["sinfo", "-R"], None),
    ("sinfo_format", ["sinfo", "-p", "debug", "-o", "%P %a %l %D %t %N"], None),
    ("sinfo_unknown_partition", ["sinfo", "-p", "nosuch"], None),
    ("scancel_unknown_job_is_quiet", ["scancel", "999999"], None),
    ("scancel_signal_unknown_job", ["scancel", "-s", "USR1", "999999"], None),
    ("scancel_error_bad_id", ["scancel", "abc"], None),
    ("scancel_error_nothing", ["scancel"], None),
    ("scancel_error_bad_user", ["scancel", "-u", "nosuchuser"], None),
    ("scancel_error_bad_state", ["scancel", "-t", "bogus", "-u", "root"], None),
    ("scancel_error_bad_signal", ["scancel", "--signal=BOGUS", "999999"], None),
    ("scontrol_show_job_keys", ["scontrol", "show", "job", "{failed}"], None),
    ("scontrol_show_partition_keys", ["scontrol", "show", "partition", "debug"], None),
    ("scontrol_hostnames", ["scontrol", "show", "hostnames", "n[1-3],x5"], None),
    ("scontrol_error_unknown_job", ["scontrol", "show", "job", "999999"], None),
    ("scontrol_error_hold_unknown_job", ["scontrol", "hold", "999999"], None),
    ("scontrol_error_bad_time_limit", ["scontrol", "update", "JobId={held}", "TimeLimit=abc"], None),
    ("scontrol_error_bad_partition", ["scontrol", "update", "JobId={held}", "Partition=nosuch"], None),
    ("scontrol_error_bad_entity", ["scontrol", "show", "bogus"], None),
    ("scontrol_error_bad_keyword", ["scontrol", "bogus"], None),
]
# Compared by their key names only: the values describe two different clusters.
KEYS_ONLY = {"scontrol_show_job_keys", "scontrol_show_partition_keys"}
# Key=value pairs JEM does not print (Slurm's own bookkeeping); dropped from Slurm's side before comparing.
SLURM_ONLY_KEYS = {"OverSubscribe", "JobDefaults"}


def normalize(text: str, ids: dict[str, str], *, user: str, cwd: str) -> str:
    """Replace what differs between two clusters (ids, times, user, cwd) with placeholders."""
    text = re.sub(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\b", "{time}", text)
    text = re.sub(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$", "{date}", text, flags=re.M)
    text = text.replace(cwd, "{cwd}")
    for name, job_id in sorted(ids.items(), key=lambda item: -len(item[1])):
        text = re.sub(rf"(?<![\d.]){job_id}(?=[._|\s]|$)", "{" + name + "}", text)
    text = re.sub(rf"(?<![\w/]){re.escape(user)}(?![\w/])", "{user}", text)
    # A placeholder stands for a value of another width: forget the padding around it.
    return re.sub(rf" *(\{{(?:{_PLACEHOLDERS}|user|cwd)\}}) *", r" \1 ", text)


def keys_only(text: str) -> str:
    """Each line's key names (`JobId= JobName=`), for records whose values describe different clusters."""
    lines = []
    for line in text.splitlines():
        keys = [k for k in re.findall(r"(?:^|\s)([A-Za-z/:_]+)=", line) if k not in SLURM_ONLY_KEYS]
        if keys:
            lines.append(" ".join(k + "=" for k in keys))
    return "\n".join(lines)


def run_case(argv: list[str], stdin: str | None, ids: dict[str, str], *, env=None, cwd=None) -> dict:
    argv = [a.format(**ids) for a in argv]
    result = subprocess.run(argv, input=stdin if stdin is not None else "", capture_output=True, text=True,
                            env=env, cwd=cwd, timeout=60)
    return {"rc": result.returncode, "stdout": result.stdout, "stderr": result.stderr}


def expected_pattern(text: str, ids: dict[str, str]) -> str:
    """A regex for golden `text` with its job-id placeholders standing for `ids`, padding free.

    Used instead of normalizing ids in JEM's output, where small ids (1, 2)
    would collide with other numbers.
    """
    parts = re.split(rf" (\{{(?:{_PLACEHOLDERS})\}}) ", text)
    pattern = "".join(re.escape(part) if i % 2 == 0 else rf" *{ids[part[1:-1]]} *" for i, part in enumerate(parts))
    # A left-justified column holding "<id>.batch" pads by the id's width.
    return pattern.replace(r" *\.batch\ ", r" *\.batch\ *")


def compared(name: str, result: dict, ids: dict[str, str], *, user: str, cwd: str) -> dict:
    out = {k: normalize(result[k], ids, user=user, cwd=cwd) if k != "rc" else result[k] for k in result}
    if name in KEYS_ONLY:
        out["stdout"] = keys_only(out["stdout"])
    return out


def submit_setup(*, env=None, cwd=None) -> dict[str, str]:
    import pwd

    user = pwd.getpwuid(os.getuid()).pw_name
    return {name: subprocess.run([a.format(user=user) for a in argv], capture_output=True, text=True, check=True,
                                 env=env, cwd=cwd).stdout.strip() for name, argv in SETUP.items()}


def _capture(path: str) -> None:
    import pwd

    cwd = os.getcwd()
    user = pwd.getpwuid(os.getuid()).pw_name
    ids = submit_setup()
    time.sleep(5)  # the two short jobs end and reach slurmdbd
    golden = {}
    for name, argv, stdin in CASES:
        golden[name] = {"argv": argv, "stdin": stdin,
                        **compared(name, run_case(argv, stdin, ids), ids, user=user, cwd=cwd)}
    subprocess.run(["scancel", ids["held"], ids["array"]], check=False)
    with open(path, "w") as f:
        json.dump(golden, f, indent=1, sort_keys=False)
        f.write("\n")


if __name__ == "__main__":
    _capture(sys.argv[1])
