"""Node events (drains and DOWNs kept in the store) and the Down time usage reports count from
them, against a second-by-second oracle."""

import random

import pytest

from jem.controller.nodes import EVENT_KEEP_UNIT_S, NodeTable
from jem.model.config import parse_config
from jem.model.node_events import NodeEvent
from jem.model.states import JobEvent
from jem.model.utilization import HOUR_S, JobActivity, cluster_usage
from jem.store import SqliteStore
from jem.store.base import NodeRecord

T0 = 1_800_000_000 - 1_800_000_000 % HOUR_S   # an hour's start

CONFIG = parse_config({"cluster": {"audit_keep_days": 2}, "nodes": [{"names": "n[1-2]", "cpus": 4, "mem_mib": 1000}],
                       "partitions": [{"name": "p", "nodes": "ALL"}]})


def oracle_down(events, *, n_cpus: int, alloc_at, start: int, end: int, now: int) -> int:
    """Down CPU-seconds second by second: the CPUs out of service then, hour by hour no more
    than what the jobs left unallocated."""
    total, last = 0, min(end, now)
    for hour_start in range(start, last, HOUR_S):
        hour_down = hour_free = 0
        for t in range(hour_start, min(hour_start + HOUR_S, last)):
            hour_down += sum(e.cpus for e in events
                             if int(e.time_start) <= t < (int(e.time_end) if e.time_end is not None else now))
            hour_free += n_cpus - alloc_at(t)
        total += min(hour_down, max(0, hour_free))
    return total


def test_down_time_is_the_events_cpus_times_their_part_of_the_period_as_the_oracle_counts():
    events = [NodeEvent("n1", "DRAIN", "disk", 4, T0 - 600, T0 + 600),              # across the start
              NodeEvent("n2", "DOWN", "fan", 2, T0 + 2 * HOUR_S - 300, T0 + 2 * HOUR_S + 900),   # across the end
              NodeEvent("n1", "DOWN+DRAIN", "psu", 4, T0 + HOUR_S + 100, None),      # open: counts to now
              NodeEvent("n2", "DRAIN", "old", 2, T0 - 900, T0 - 10)]                 # before the period
    now = T0 + 2 * HOUR_S + 600
    usage = cluster_usage([], n_cpus=8, start=T0, end=T0 + 2 * HOUR_S, now=now, node_events=events)
    assert usage.down_cpu_s == 4 * 600 + 2 * 300 + 4 * (HOUR_S - 100)
    assert usage.down_cpu_s == oracle_down(events, n_cpus=8, alloc_at=lambda t: 0, start=T0, end=T0 + 2 * HOUR_S,
                                           now=now)
    assert usage.reported_cpu_s == 8 * 2 * HOUR_S == usage.down_cpu_s + usage.idle_cpu_s
    assert usage.planned_down_cpu_s == 0


def test_an_open_event_counts_up_to_now_and_not_beyond():
    events = [NodeEvent("n1", "DOWN", "x", 4, T0 + 100, None)]
    usage = cluster_usage([], n_cpus=8, start=T0, end=T0 + HOUR_S, now=T0 + 400, node_events=events)
    assert (usage.down_cpu_s, usage.idle_cpu_s, usage.reported_cpu_s) == (4 * 300, 8 * 400 - 4 * 300, 8 * 400)


def test_down_time_a_drained_nodes_jobs_hold_is_allocated_and_waiting_jobs_share_what_is_left():
    # 4 CPUs. A 4-CPU job runs all of hour 0 on n1, drained meanwhile; hour 1: drained, a 2-CPU job waits.
    job = JobActivity(1, "ann", "a", 4, ((T0, JobEvent.START.value), (T0 + HOUR_S, JobEvent.COMPLETE.value)))
    waiting = JobActivity(2, "ann", "a", 2, ((T0 + HOUR_S, JobEvent.SUBMIT.value),))
    events = [NodeEvent("n1", "DRAIN", "x", 2, T0 + 60, T0 + 2 * HOUR_S)]
    usage = cluster_usage([job, waiting], n_cpus=4, start=T0, end=T0 + 2 * HOUR_S, now=T0 + 3 * HOUR_S,
                          node_events=events)
    assert usage.down_cpu_s == 2 * HOUR_S   # none in hour 0: the job held every CPU
    assert (usage.planned_cpu_s, usage.idle_cpu_s, usage.over_committed_cpu_s) == (2 * HOUR_S, 0, 0)
    assert usage.reported_cpu_s == 8 * HOUR_S


def test_random_events_and_jobs_agree_with_the_oracle():
    rng = random.Random(11)
    start, end, now = T0, T0 + 3 * HOUR_S, T0 + 3 * HOUR_S - 500
    events, jobs = [], []
    for i in range(8):
        a = start + rng.randrange(-HOUR_S, 3 * HOUR_S)
        b = None if i % 4 == 0 else a + rng.randrange(1, 2 * HOUR_S)
        events.append(NodeEvent(f"n{i % 3}", "DOWN", "", rng.randrange(1, 4), a, b))
    for i in range(4):
        a = start + rng.randrange(-HOUR_S, 3 * HOUR_S)
        jobs.append(JobActivity(i, "ann", "a", rng.randrange(1, 4),
                                ((a, JobEvent.START.value), (a + rng.randrange(1, HOUR_S), JobEvent.COMPLETE.value))))

    def alloc_at(t):
        return sum(j.n_cpus for j in jobs if int(j.events[0][0]) <= t < int(j.events[1][0]))

    usage = cluster_usage(jobs, n_cpus=8, start=start, end=end, now=now, node_events=events)
    assert usage.down_cpu_s == oracle_down(events, n_cpus=8, alloc_at=alloc_at, start=start, end=end, now=now)
    assert usage.reported_cpu_s == usage.allocated_cpu_s + usage.down_cpu_s + usage.idle_cpu_s + usage.planned_cpu_s


# ---------------------------------------------------------------- the store and the node table

@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "jem.db")


def test_the_store_opens_an_event_per_change_out_of_service_and_ends_it_on_return(db_path):
    store = SqliteStore(db_path)
    store.save_node(NodeRecord("n1", True, "disk"), cpus=4, time=T0)
    store.save_node(NodeRecord("n1", True, "disk"), cpus=4, time=T0 + 5)          # no change: the same event
    store.save_node(NodeRecord("n1", True, "disk", is_down=True), cpus=4, time=T0 + 10)
    store.save_node(NodeRecord("n2", False, "fan", is_down=True), cpus=2, time=T0 + 20)
    store.close()
    store = SqliteStore(db_path)   # a controller restart: the open events are still open
    store.save_node(NodeRecord("n1", False, ""), cpus=4, time=T0 + 30)
    assert store.node_events(start=T0, end=T0 + HOUR_S) == [
        NodeEvent("n1", "DRAIN", "disk", 4, T0, T0 + 10), NodeEvent("n1", "DOWN+DRAIN", "disk", 4, T0 + 10, T0 + 30),
        NodeEvent("n2", "DOWN", "fan", 2, T0 + 20, None)]
    assert store.node_events(start=T0 + 30, end=T0 + HOUR_S) == [NodeEvent("n2", "DOWN", "fan", 2, T0 + 20, None)]
    assert store.node_events(start=T0 - HOUR_S, end=T0) == []
    assert store.forget_node_events(before=T0 + 20) == 1
    assert [e.time_start for e in store.node_events(start=T0, end=T0 + HOUR_S)] == [T0 + 10, T0 + 20]
    store.close()


def test_the_node_table_writes_events_with_the_nodes_cpus_and_drops_those_past_the_keep(db_path):
    clock = [float(T0)]
    store = SqliteStore(db_path)
    nodes = NodeTable(CONFIG, store, clock=lambda: clock[0])
    nodes.drain("n1", "disk")
    clock[0] += 100
    nodes.resume("n1")
    assert store.node_events(start=T0, end=T0 + HOUR_S) == [NodeEvent("n1", "DRAIN", "disk", 4, T0, T0 + 100)]
    clock[0] += 200
    nodes.down("n2", "fan")
    restarted = NodeTable(CONFIG, store, clock=lambda: clock[0])
    clock[0] = T0 + 100 + 2 * EVENT_KEEP_UNIT_S + 1   # n1's event ended more than audit_keep_days ago
    restarted.resume("n2")
    assert store.node_events(start=T0, end=clock[0] + 1) == [NodeEvent("n2", "DOWN", "fan", 4, T0 + 300, clock[0])]
    store.close()
