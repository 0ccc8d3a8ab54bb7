"""srun's step options in the model: -O lets tasks share CPUs (steps and, sized as one task per
node, allocations), where each task's stdin comes from (-i), which streams come back (-o/-e),
and the node each task of the block layout runs on."""

import os

import pytest

from jem.model.errors import InvalidArgument, StepTooLarge
from jem.model.job import JobSpec, shape_job
from jem.model.limits import DEFAULT_LIMITS
from jem.model.step import (MAX_TASKS_PER_NODE, STDIN_FROM_SRUN, STREAMED, StepSpec, layout_tasks,
                            node_index_of_task)


def _layout(**spec):
    return layout_tasks(StepSpec(("x",), **spec), job_nodes=("n1", "n2"), job_cpus_per_node=2, job_cpus_per_task=1)


def test_overcommit_lets_a_steps_tasks_share_the_jobs_cpus_up_to_slurms_bound():
    with pytest.raises(StepTooLarge):
        _layout(n_tasks=5)
    assert _layout(n_tasks=5, overcommit=True).task_ids == ((0, 1, 2), (3, 4))
    assert _layout(n_tasks=2 * MAX_TASKS_PER_NODE, overcommit=True).n_tasks == 2 * MAX_TASKS_PER_NODE
    with pytest.raises(StepTooLarge):
        _layout(n_tasks=2 * MAX_TASKS_PER_NODE + 1, overcommit=True)
    with pytest.raises(StepTooLarge):   # a task still needs its CPUs
        _layout(n_tasks=1, cpus_per_task=3, overcommit=True)


def test_an_overcommitted_job_is_sized_as_one_task_per_node():
    def shape(**fields):
        return shape_job(JobSpec("#!/bin/sh\n", **fields), largest_node_cpus=4, default_mem_per_cpu_mib=100)

    assert shape(n_tasks=40, n_nodes=1, overcommit=True).per_node.cpus == 1
    over = shape(n_tasks=40, cpus_per_task=2, n_tasks_per_node=3, overcommit=True)
    assert (over.n_nodes, over.n_tasks, over.per_node.cpus, over.per_node.mem_mib) == (1, 40, 2, 200)
    assert shape(n_tasks=6, n_nodes=2, overcommit=True).per_node.cpus == 1
    assert shape(n_tasks=6).n_nodes == 2   # without -O: 6 CPUs on 4-CPU nodes


@pytest.mark.parametrize("mode, task_id, source", [
    ("", 0, STDIN_FROM_SRUN), ("all", 3, STDIN_FROM_SRUN), ("none", 0, os.devnull), ("1", 1, STDIN_FROM_SRUN),
    ("1", 0, os.devnull), ("in-%t.txt", 2, "in-%t.txt"),
])
def test_each_task_reads_what_srun_input_says(mode, task_id, source):
    assert StepSpec(("x",), input=mode).stdin_of(task_id) == source


def test_stderr_comes_back_with_stdout_unless_it_has_a_file_or_is_marked_streamed():
    def streams(out, err):
        spec = StepSpec(("x",), stdout_pattern=out, stderr_pattern=err)
        return spec.is_streamed, spec.is_stderr_streamed

    assert streams("", "") == (True, True)
    assert streams("o-%t", "") == (False, False)
    assert streams("o-%t", STREAMED) == (False, True)
    assert streams("", "e-%t") == (True, False)


def test_an_open_mode_other_than_slurms_is_refused():
    StepSpec(("x",), open_mode="append").check_sizes(DEFAULT_LIMITS)
    with pytest.raises(InvalidArgument):
        StepSpec(("x",), open_mode="sideways").check_sizes(DEFAULT_LIMITS)


def test_the_node_of_each_task_follows_the_block_layout():
    for n_tasks, n_nodes in ((5, 2), (7, 3), (3, 3), (8, 1)):
        layout = layout_tasks(StepSpec(("x",), n_tasks=n_tasks, overcommit=True), job_nodes=("a", "b", "c")[:n_nodes],
                              job_cpus_per_node=1, job_cpus_per_task=1)
        for index, ids in enumerate(layout.task_ids):
            assert all(node_index_of_task(t, n_tasks=n_tasks, n_nodes=n_nodes) == index for t in ids)
