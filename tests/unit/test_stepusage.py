"""sstat's per-step figures: tasks on several nodes merged per step (max/min with their task
and node, average, total), carried over the wire, and printed as Slurm's sstat prints them."""

from jem.convert import job_usage_from_pb, job_usage_to_pb, task_usage_from_pb, task_usage_to_pb
from jem.model.stepusage import BATCH_STEP, JobUsageReport, TaskUsage, UsageProblem, merge
from jem_slurm.sstat import _Row, _columns, count, help_lines

TASKS = [TaskUsage(0, 1, "n1", cpu_us=3_000_000, rss_kib=2048, max_rss_kib=4096, vmsize_kib=10, max_vmsize_kib=20,
                   pages=1, read_bytes=100, write_bytes=1, pids=(11,)),
         TaskUsage(0, 0, "n2", cpu_us=5_000_000, rss_kib=1000, max_rss_kib=3000, vmsize_kib=30, max_vmsize_kib=40,
                   pages=0, read_bytes=300, write_bytes=0, pids=(12,)),
         TaskUsage(BATCH_STEP, 0, "n1", cpu_us=10, max_rss_kib=5, pids=(10,))]


def test_tasks_merge_per_step_batch_first():
    batch, step = merge(7, TASKS)
    assert (batch.step_id, batch.n_tasks, batch.nodes) == (BATCH_STEP, 1, ("n1",))
    assert (step.step_id, step.n_tasks, step.nodes, step.pids) == (0, 2, ("n2", "n1"), (12, 11))
    cpu = step.figures["cpu_us"]
    assert (cpu.max, cpu.max_node, cpu.max_task, cpu.min, cpu.min_node, cpu.min_task) == (
        5_000_000, "n2", 0, 3_000_000, "n1", 1)
    assert (cpu.ave, cpu.total) == (4_000_000, 8_000_000)
    assert step.figures["rss_kib"].max == 4096 and step.figures["ave_rss_kib"].total == 3048


def test_usage_round_trips_over_the_wire():
    assert all(task_usage_from_pb(task_usage_to_pb(t)) == t for t in TASKS)
    report = JobUsageReport(steps=tuple(merge(7, TASKS)), problems=((8, UsageProblem.NOT_PERMITTED),))
    assert job_usage_from_pb(job_usage_to_pb(report)) == report


def test_cells_as_slurm_prints_them():
    _, step = merge(7, TASKS)
    row = _Row(step, noconvert=False)
    cells = {name: row.cell(name) for name in ("JobID", "MaxRSS", "MaxRSSNode", "MaxRSSTask", "AveRSS", "MinCPU",
                                               "MinCPUTask", "AveCPU", "NTasks", "Nodelist", "MaxDiskWrite",
                                               "ReqCPUFreqMin", "TRESUsageInMaxTask", "TRESUsageOutTot", "Pids")}
    assert cells == {"JobID": "7.0", "MaxRSS": "4M", "MaxRSSNode": "n1", "MaxRSSTask": "1", "AveRSS": "1524K",
                     "MinCPU": "00:00:03", "MinCPUTask": "1", "AveCPU": "00:00:04", "NTasks": "2",
                     "Nodelist": "n[1-2]", "MaxDiskWrite": "1.00M", "ReqCPUFreqMin": "Unknown",
                     "TRESUsageInMaxTask": "cpu=00:00:00,fs/disk=0,mem=1,pages=1,vmem=0",
                     "TRESUsageOutTot": "energy=0,fs/disk=1", "Pids": "12,11"}
    assert _Row(step, noconvert=True).cell("MaxRSS") == str(4096 * 1024)
    assert count(44118) == "44118" and count(0) == "0"


def test_columns_and_helpformat():
    assert _columns("jobid,maxrss%5,AveCPU%-3") == [("JobID", 12, True), ("MaxRSS", 5, False), ("AveCPU", 3, True)]
    assert help_lines()[0] == "AveCPU              AveCPUFreq          AveDiskRead         AveDiskWrite       "
