"""Job steps' pure parts: task layout within an allocation, the step's end, the
store's step records, and srun's lines for failed tasks."""

import pytest

from jem.model.errors import StepTooLarge
from jem.model.job import JobUsage
from jem.model.states import JobState
from jem.model.step import Step, StepSpec, TaskExit, layout_tasks
from jem.store import SqliteStore
from jem_slurm.srun_io import exit_lines, step_exit_code
from tests.unit.test_store import _job

NODES = ("n1", "n2", "n3")


def layout(cpus_per_node: int = 4, job_cpt: int = 1, **spec):
    return layout_tasks(StepSpec(("x",), **spec), job_nodes=NODES, job_cpus_per_node=cpus_per_node,
                        job_cpus_per_task=job_cpt)


@pytest.mark.parametrize("spec, nodes, ids", [
    ({}, NODES, ((0,), (1,), (2,))),                                      # one task per node of the job
    ({"n_tasks": 7}, NODES, ((0, 1, 2), (3, 4), (5, 6))),                # blocks, the first nodes one more
    ({"n_tasks": 2}, ("n1", "n2"), ((0,), (1,))),                         # never more nodes than tasks
    ({"n_nodes": 1, "n_tasks": 4}, ("n1",), ((0, 1, 2, 3),)),
    ({"n_nodes": 2, "n_tasks_per_node": 2}, ("n1", "n2"), ((0, 1), (2, 3))),
    ({"n_tasks": 4, "cpus_per_task": 2}, ("n1", "n2", "n3"), ((0, 1), (2,), (3,))),
])
def test_tasks_are_laid_out_in_blocks_over_the_jobs_nodes(spec, nodes, ids):
    result = layout(**spec)
    assert (result.nodes, result.task_ids) == (nodes, ids)


@pytest.mark.parametrize("spec", [{"n_tasks": 13}, {"n_nodes": 4}, {"cpus_per_task": 5},
                                  {"n_tasks": 7, "cpus_per_task": 2}, {"n_tasks": 4, "n_nodes": 1,
                                                                       "n_tasks_per_node": 3}])
def test_a_step_larger_than_the_allocation_is_refused(spec):
    with pytest.raises(StepTooLarge):
        layout(**spec)


def test_the_jobs_cpus_per_task_are_the_default():
    assert layout(job_cpt=2, n_tasks=6).task_ids == ((0, 1), (2, 3), (4, 5))
    with pytest.raises(StepTooLarge):
        layout(job_cpt=2, n_tasks=7)


def _step(**fields) -> Step:
    return Step(**({"job_id": 5, "step_id": 0, "name": "x", "nodes": ("n1",), "n_tasks": 2, "n_cpus": 2,
                    "start_time": 1.0} | fields))


def test_a_step_ends_with_its_worst_task():
    step = _step()
    step.finish([TaskExit(0, "n1", usage=JobUsage(10, 1, 100)), TaskExit(1, "n1", exit_code=3,
                                                                        usage=JobUsage(5, 2, 300))],
                now=2.0, was_cancelled=False)
    assert (step.state, step.exit_code, step.end_time, step.usage) == (JobState.FAILED, 3, 2.0, JobUsage(15, 3, 300))
    clean, killed = _step(), _step()
    clean.finish([TaskExit(0, "n1"), TaskExit(1, "n1")], now=2.0, was_cancelled=False)
    killed.finish([TaskExit(0, "n1", exit_signal=9), TaskExit(1, "n1")], now=2.0, was_cancelled=False)
    assert (clean.state, killed.state, killed.exit_signal) == (JobState.COMPLETED, JobState.CANCELLED, 9)


def test_steps_are_stored_and_listed_by_job_and_id(tmp_path):
    store = SqliteStore(str(tmp_path / "jem.db"))
    job_id, _ = store.add_job(_job(), time=1.0)
    assert store.next_step_id(job_id) == 0
    first, second = _step(job_id=job_id), _step(job_id=job_id, step_id=1, ends_job=True)
    store.save_step(first)
    store.save_step(second)
    first.finish([TaskExit(0, "n1")], now=3.0, was_cancelled=False)
    store.save_step(first)
    assert store.list_steps([job_id]) == [first, second]
    assert store.running_steps() == [second] and store.next_step_id(job_id) == 2


def test_srun_groups_failed_tasks_per_node_and_way_of_ending():
    exits = [TaskExit(0, "n1", exit_code=3), TaskExit(1, "n1", exit_code=3), TaskExit(2, "n2", exit_code=3),
             TaskExit(3, "n2"), TaskExit(4, "n2", exit_signal=11), TaskExit(5, "n2", launch_error="no such user")]
    assert exit_lines(exits) == ["n1: tasks 0-1: Exited with exit code 3", "n2: task 2: Exited with exit code 3",
                                 "n2: task 4: Segmentation fault", "n2: task 5: launch failed: no such user"]
    assert step_exit_code(exits) == 128 + 11 and step_exit_code(exits[:4]) == 3
