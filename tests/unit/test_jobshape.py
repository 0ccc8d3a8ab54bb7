"""jem.model.job: JobSpec.validate names the bad field; shape_job spreads a request over nodes."""

import dataclasses

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from jem.model.errors import InvalidJobSpec, JemError
from jem.model.job import MAX_NAME_LEN, Job, JobShape, JobSpec, shape_job
from jem.model.resources import Resources
from jem.model.states import JobState

SCRIPT = "#!/bin/bash\necho hi\n"


def spec(**fields) -> JobSpec:
    return JobSpec(script=SCRIPT, **fields)


def shape(largest_node_cpus=8, default_mem_per_cpu_mib=1000, **fields) -> JobShape:
    return shape_job(spec(**fields), largest_node_cpus=largest_node_cpus,
                     default_mem_per_cpu_mib=default_mem_per_cpu_mib)


# ---------------------------------------------------------------- validate

def test_valid_spec_passes():
    spec(name="x" * MAX_NAME_LEN, n_nodes=2, n_tasks=4, cpus_per_task=2, mem_per_cpu_mib=100,
         gpus_per_node=1, time_limit_s=60, nice=10, working_dir="/tmp").validate()
    spec(mem_per_node_mib=0, mem_per_cpu_mib=None).validate()


@pytest.mark.parametrize("fields, field_name", [
    ({"script": ""}, "script"),
    ({"script": "   \n"}, "script"),
    ({"script": "echo no shebang\n"}, "script"),
    ({"n_nodes": -1}, "n_nodes"),
    ({"n_tasks": -1}, "n_tasks"),
    ({"cpus_per_task": 0}, "cpus_per_task"),
    ({"n_tasks_per_node": -2}, "n_tasks_per_node"),
    ({"mem_per_node_mib": -1}, "mem_per_node_mib"),
    ({"mem_per_cpu_mib": -1}, "mem_per_cpu_mib"),
    ({"mem_per_node_mib": 100, "mem_per_cpu_mib": 10}, "mem"),
    ({"gpus_per_node": -1}, "gpus_per_node"),
    ({"time_limit_s": 0}, "time_limit_s"),
    ({"time_limit_s": -60}, "time_limit_s"),
    ({"nice": 2147483646}, "nice"),
    ({"nice": -2147483646}, "nice"),
    ({"working_dir": "relative/dir"}, "working_dir"),
])
def test_validate_error_names_the_field(fields, field_name):
    base = {"script": SCRIPT}
    base.update(fields)
    with pytest.raises(InvalidJobSpec) as info:
        JobSpec(**base).validate()
    assert info.value.detail.startswith(f"{field_name}: "), info.value.detail
    assert str(info.value).startswith(f"Invalid job specification: {field_name}: ")


def test_validate_explains_mem_conflict_in_sbatch_terms():
    with pytest.raises(InvalidJobSpec, match="--mem and --mem-per-cpu are mutually exclusive"):
        spec(mem_per_node_mib=1, mem_per_cpu_mib=1).validate()


def test_validate_reports_the_first_bad_field():
    with pytest.raises(InvalidJobSpec) as info:
        spec(n_nodes=-1, gpus_per_node=-1).validate()
    assert info.value.detail.startswith("n_nodes:")


def test_spec_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec().n_nodes = 3  # type: ignore[misc]


# ---------------------------------------------------------------- shape_job

def test_defaults_are_one_task_on_one_node():
    s = shape()
    assert (s.n_nodes, s.n_tasks) == (1, 1)
    assert s.per_node == Resources(cpus=1, mem_mib=1000, gpus=0)


def test_tasks_and_cpus_per_task_pick_the_fewest_nodes():
    # the worked example of shape_job: 20 CPUs on 8-CPU nodes
    s = shape(n_tasks=10, cpus_per_task=2, largest_node_cpus=8)
    assert s.n_nodes == 3
    assert s.n_tasks == 10
    assert s.per_node.cpus == 8            # ceil(10 / 3) = 4 tasks x 2 CPUs
    assert s.per_node.mem_mib == 8 * 1000  # default per-CPU memory times CPUs on the node


def test_tasks_that_fit_one_node_stay_on_one_node():
    s = shape(n_tasks=4, cpus_per_task=2, largest_node_cpus=8)
    assert (s.n_nodes, s.per_node.cpus) == (1, 8)


def test_more_nodes_than_tasks_drops_to_the_task_count():
    s = shape(n_nodes=2, n_tasks=1)
    assert s.n_nodes == 1 and s.n_tasks == 1 and s.per_node.cpus == 1


def test_nodes_without_tasks_run_one_task_per_node():
    s = shape(n_nodes=3)
    assert (s.n_nodes, s.n_tasks, s.per_node.cpus) == (3, 3, 1)


def test_tasks_per_node_sets_the_node_count():
    s = shape(n_tasks=10, n_tasks_per_node=4)
    assert (s.n_nodes, s.n_tasks, s.per_node.cpus) == (3, 10, 4)


def test_nodes_and_tasks_per_node_set_the_task_count():
    s = shape(n_nodes=2, n_tasks_per_node=4, cpus_per_task=2)
    assert (s.n_nodes, s.n_tasks, s.per_node.cpus) == (2, 8, 8)


def test_task_wider_than_the_largest_node_gets_a_node_each():
    s = shape(n_tasks=3, cpus_per_task=16, largest_node_cpus=8)
    assert (s.n_nodes, s.per_node.cpus) == (3, 16)


def test_mem_is_per_node_regardless_of_cpus():
    s = shape(n_tasks=8, mem_per_node_mib=4096)
    assert s.per_node == Resources(cpus=8, mem_mib=4096, gpus=0)


def test_mem_per_cpu_scales_with_the_cpus_on_each_node():
    s = shape(n_tasks=10, cpus_per_task=2, mem_per_cpu_mib=500)
    assert s.per_node.cpus == 8 and s.per_node.mem_mib == 8 * 500


def test_partition_default_applies_only_without_mem_options():
    assert shape(n_tasks=2, default_mem_per_cpu_mib=300).per_node.mem_mib == 600
    assert shape(n_tasks=2, mem_per_cpu_mib=0, default_mem_per_cpu_mib=300).per_node.mem_mib == 0
    assert shape(n_tasks=2, mem_per_node_mib=50, default_mem_per_cpu_mib=300).per_node.mem_mib == 50


def test_gpus_per_node_pass_through():
    assert shape(n_nodes=2, gpus_per_node=4).per_node.gpus == 4


@settings(derandomize=True, max_examples=300, deadline=None)
@given(
    n_nodes=st.integers(0, 16), n_tasks=st.integers(0, 64), cpus_per_task=st.integers(1, 8),
    n_tasks_per_node=st.integers(0, 8), largest=st.integers(1, 64),
)
def test_shape_always_has_room_for_every_task(n_nodes, n_tasks, cpus_per_task, n_tasks_per_node, largest):
    # -N, -n and --ntasks-per-node that contradict each other: see the test below
    assume(not (n_nodes and n_tasks and n_tasks_per_node and n_nodes * n_tasks_per_node < n_tasks))
    s = shape(n_nodes=n_nodes, n_tasks=n_tasks, cpus_per_task=cpus_per_task,
              n_tasks_per_node=n_tasks_per_node, largest_node_cpus=largest)
    assert s.n_nodes >= 1 and s.n_tasks >= 1
    assert s.n_nodes <= s.n_tasks                       # never a node without a task
    tasks_per_node = s.per_node.cpus // cpus_per_task
    assert s.per_node.cpus % cpus_per_task == 0
    assert tasks_per_node * s.n_nodes >= s.n_tasks      # every task has CPUs somewhere
    if n_tasks:
        assert s.n_tasks == n_tasks
    if n_nodes and not n_tasks_per_node:
        assert s.n_nodes == min(n_nodes, s.n_tasks)


def test_contradicting_node_and_task_counts_are_not_silently_under_allocated():
    # sbatch -N 1 -n 2 --ntasks-per-node=1: Slurm refuses it; it must not become 2 tasks on 1 CPU
    try:
        s = shape(n_nodes=1, n_tasks=2, n_tasks_per_node=1)
    except JemError:
        return
    assert s.per_node.cpus * s.n_nodes >= 2


# ---------------------------------------------------------------- Job

def test_job_liveness_follows_state():
    job = Job(job_id=1, spec=spec(), user="ann", uid=1000, gid=1000, submit_time=0.0,
              shape=shape(), time_limit_s=60)
    assert job.is_pending and not job.is_live
    for state, live in [(JobState.RUNNING, True), (JobState.SUSPENDED, True), (JobState.COMPLETING, True),
                        (JobState.COMPLETED, False), (JobState.PENDING, False)]:
        job.state = state
        assert job.is_live is live
