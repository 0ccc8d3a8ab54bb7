"""jem.model.clusterfigures against figures worked out by hand, and against a plain recount of random
clusters (each group's counts add up to the cluster's, each job counted once per group it is in)."""

import random

from jem.model.clusterfigures import JOB_STATE_WORDS, MIB, cluster_figures
from jem.model.job import Job, JobShape, JobSpec
from jem.model.node import Node
from jem.model.partition import Partition
from jem.model.resources import Resources
from jem.model.states import JobState


def _job(job_id, state, *, user="alice", account="phys", partition="", n_nodes=1, cpus=2, mem_mib=100,
         nodes=(), held_by="", start_time=None) -> Job:
    return Job(job_id=job_id, spec=JobSpec(script="#!/bin/sh\n", account=account, partition=partition), user=user,
               uid=1000, gid=1000, submit_time=0.0, shape=JobShape(n_nodes, n_nodes, Resources(cpus, mem_mib)),
               time_limit_s=60, state=state, nodes=tuple(nodes), held_by=held_by, start_time=start_time)


def _node(name, *, cpus=8, alloc=0, responding=True, drained=False) -> Node:
    return Node(name, Resources(cpus, 1024), allocated=Resources(alloc, alloc * 100), is_responding=responding,
                is_drained=drained, job_ids={1} if alloc else set())


PARTITIONS = (Partition("batch", ("n1", "n2")), Partition("gpu", ("n2", "n3")))


def test_figures_worked_out_by_hand():
    jobs = [_job(1, JobState.RUNNING, partition="batch", n_nodes=2, nodes=("n1", "n2"), start_time=5.0),
            _job(2, JobState.PENDING, n_nodes=3),                       # (default partition: batch)
            _job(3, JobState.PENDING, user="bob", account="chem", partition="gpu", n_nodes=2, held_by="user"),
            _job(4, JobState.COMPLETED, user="bob", partition="gpu", start_time=1.0),
            _job(5, JobState.OUT_OF_MEMORY, partition="gpu", start_time=1.0)]
    nodes = [_node("n1", alloc=2), _node("n2", alloc=8), _node("n3", drained=True), _node("n4", responding=False)]
    figures = cluster_figures(jobs, nodes, PARTITIONS, default_partition="batch")
    c = figures.jobs
    assert c.total == 5 and c.counts["pending"] == 2 and c.counts["hold"] == 1 and c.counts["running"] == 1
    assert (c.counts["completed"], c.counts["outofmemory"], c.counts["finished"], c.counts["started"]) == (1, 1, 2, 3)
    assert (c.cpus_alloc, c.memory_alloc_bytes, c.nodes_alloc) == (4, 200 * MIB, 2)
    assert (c.max_job_nodes, c.max_job_nodes_nohold) == (3, 3)
    batch, gpu = figures.jobs_by_partition["batch"], figures.jobs_by_partition["gpu"]
    assert (batch.total, batch.counts["pending"], batch.counts["running"]) == (2, 1, 1)
    assert (gpu.total, gpu.counts["hold"], gpu.max_job_nodes, gpu.max_job_nodes_nohold) == (3, 1, 2, 0)
    assert figures.jobs_by_user["bob"].total == 2 and figures.jobs_by_account["chem"].total == 1
    n = figures.nodes
    assert (n.total, n.counts["mixed"], n.counts["alloc"], n.counts["idle"]) == (4, 1, 1, 0)
    assert (n.counts["drain"], n.counts["drained"], n.counts["down"], n.counts["noresp"]) == (1, 1, 1, 1)
    assert (n.cpus, n.cpus_alloc, n.cpus_idle) == (32, 10, 6 + 0 + 8)   # (the down node's CPUs are not idle)
    assert figures.nodes_by_partition["gpu"].total == 2 and figures.nodes_by_partition["gpu"].cpus_alloc == 8
    assert [node.name for node in figures.node_list] == ["n1", "n2", "n3", "n4"]


def test_each_groups_counts_add_up_to_the_clusters():
    rng = random.Random(7)
    states = list(JOB_STATE_WORDS)
    for _ in range(50):
        jobs = [_job(i, rng.choice(states), user=rng.choice("abc"), account=rng.choice(("x", "y")),
                     partition=rng.choice(("batch", "gpu", "")), held_by=rng.choice(("", "user")),
                     nodes=("n1",) * rng.randint(0, 1)) for i in range(rng.randint(0, 40))]
        figures = cluster_figures(jobs, [], PARTITIONS, default_partition="batch")
        for groups in (figures.jobs_by_partition, figures.jobs_by_user, figures.jobs_by_account):
            assert sum(g.total for g in groups.values()) == len(jobs)
            for word in ("pending", "running", "hold", "finished"):
                assert sum(g.counts[word] for g in groups.values()) == figures.jobs.counts[word]
            assert sum(g.cpus_alloc for g in groups.values()) == figures.jobs.cpus_alloc
        for word, state in ((w, s) for s, w in JOB_STATE_WORDS.items()):
            assert figures.jobs.counts[word] == sum(j.state is state for j in jobs)


def test_a_tally_kept_through_changes_is_a_fresh_count():
    """Jobs changed at random (state, hold, nodes, partition) and forgotten, the tally updated with each
    change as the controller's job index does: its figures are those of counting the jobs left afresh."""
    from dataclasses import replace

    from jem.model.clusterfigures import JobTally, figures_of

    rng = random.Random(11)
    states = list(JOB_STATE_WORDS)
    tally, jobs = JobTally(), {}
    for step in range(3000):
        job_id = rng.randrange(1, 200)
        if job_id in jobs and rng.random() < 0.1:
            tally.remove(job_id)
            del jobs[job_id]
            continue
        job = _job(job_id, rng.choice(states), user=rng.choice(("a", "b", "")), account=rng.choice(("x", "")),
                   partition=rng.choice(("batch", "gpu", "")), held_by=rng.choice(("", "user")),
                   n_nodes=rng.randint(1, 3), nodes=("n1",) * rng.randint(0, 2),
                   start_time=rng.choice((None, 1.0)))
        jobs[job_id] = replace(job)
        tally.update(job)
        if step % 500 == 0:
            kept = figures_of(tally.snapshot(), [], PARTITIONS, default_partition="batch")
            fresh = cluster_figures(jobs.values(), [], PARTITIONS, default_partition="batch")
            assert kept == fresh
