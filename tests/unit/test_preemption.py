"""Preemption in the scheduling cycle (jem.scheduler.preemption through plan_cycle): which running
jobs a blocked job pushes off, under preempt/qos and preempt/partition_prio."""

import dataclasses

from jem.model.accounting import add_qos, new_table
from jem.model.associations import PreemptMode, Qos
from jem.model.partition import Partition
from jem.model.resources import Resources
from jem.scheduler.cycle import plan_cycle
from jem.scheduler.policy import Policy
from jem.scheduler.preemption import PreemptPolicy
from jem.scheduler.snapshot import NodeView, PendingJob, RunningJob, Snapshot

NOW = 100_000.0


def node(name, cpus=4, used=0) -> NodeView:
    return NodeView(name, Resources(cpus, 4096, 0), Resources(used, used * 100, 0), True)


def running(job_id, node_name, cpus, *, started_ago, qos="low", partition="batch", killed=False) -> RunningJob:
    return RunningJob(job_id=job_id, node_names=(node_name,), per_node=Resources(cpus, cpus * 100, 0),
                      start_time=NOW - started_ago, time_limit_s=86400, qos=qos, partition=partition,
                      is_killed=killed)


def pending(job_id, cpus, *, qos="high", partition="batch") -> PendingJob:
    return PendingJob(job_id=job_id, priority=100, submit_time=NOW - 10, partition=partition, n_nodes=1,
                      per_node=Resources(cpus, cpus * 100, 0), held_by="", begin_time=None, time_limit_s=600,
                      qos=qos)


def table(*, exempt_s=None, mode=PreemptMode.OFF, grace_s=0):
    t, _ = add_qos(new_table(), [Qos("low", preempt_mode=mode, grace_time_s=grace_s, preempt_exempt_time_s=exempt_s)])
    t, _ = add_qos(t, [Qos("high", preempt=("low",))])
    return t


POLICY = Policy(reservation_depth=1, preemption=PreemptPolicy(preempt_type="qos", mode=PreemptMode.CANCEL))
BATCH = Partition("batch", ("n1", "n2"))


def snapshot(nodes, runs, jobs, *, accounting=None, partitions=(BATCH,)) -> Snapshot:
    return Snapshot(nodes=tuple(nodes), partitions=tuple(partitions), pending=tuple(jobs), running=tuple(runs),
                    accounting=accounting or table())


def test_the_youngest_victim_that_makes_room_is_pushed_off():
    runs = [running(1, "n1", 2, started_ago=3600), running(2, "n1", 2, started_ago=300),
            running(3, "n2", 1, started_ago=60), running(4, "n2", 3, started_ago=7200)]
    snap = snapshot([node("n1", used=4), node("n2", used=4)], runs, [pending(10, 2)])
    decisions = plan_cycle(snap, NOW, policy=POLICY)
    assert [(p.victim_id, p.preemptor_id, p.mode) for p in decisions.preemptions] == [(2, 10, PreemptMode.CANCEL)]


def test_only_the_qos_a_job_may_preempt_and_not_before_the_exempt_time():
    runs = [running(1, "n1", 4, started_ago=30, qos="normal")]
    snap = snapshot([node("n1", used=4)], runs, [pending(10, 2)], partitions=(Partition("batch", ("n1",)),))
    assert plan_cycle(snap, NOW, policy=POLICY).preemptions == []          # (normal is not low)
    runs = [running(1, "n1", 4, started_ago=30)]
    snap = dataclasses.replace(snap, running=tuple(runs), accounting=table(exempt_s=60))
    assert plan_cycle(snap, NOW, policy=POLICY).preemptions == []          # (exempt for its first 60 s)
    snap = dataclasses.replace(snap, accounting=table(exempt_s=10, mode=PreemptMode.REQUEUE, grace_s=30))
    [preemption] = plan_cycle(snap, NOW, policy=POLICY).preemptions
    assert preemption.mode is PreemptMode.REQUEUE and preemption.grace_time_s == 30


def test_a_job_waiting_out_its_victims_grace_pushes_nobody_else_off():
    runs = [running(1, "n1", 2, started_ago=300, killed=True), running(2, "n1", 2, started_ago=100)]
    snap = snapshot([node("n1", used=4)], runs, [pending(10, 2)], partitions=(Partition("batch", ("n1",)),))
    assert plan_cycle(snap, NOW, policy=POLICY).preemptions == []


def test_partition_priority_preempts_jobs_of_lower_tiers_only():
    low = Partition("low", ("n1",), priority_tier=1)
    high = Partition("high", ("n1",), priority_tier=10)
    runs = [running(1, "n1", 4, started_ago=600, qos="normal", partition="low")]
    policy = dataclasses.replace(POLICY, preemption=PreemptPolicy(preempt_type="partition_prio"))
    snap = snapshot([node("n1", used=4)], runs, [pending(10, 4, qos="normal", partition="high")],
                    partitions=(low, high))
    assert [p.victim_id for p in plan_cycle(snap, NOW, policy=policy).preemptions] == [1]
    snap = dataclasses.replace(snap, pending=(pending(11, 4, qos="normal", partition="low"),))
    assert plan_cycle(snap, NOW, policy=policy).preemptions == []
    assert plan_cycle(dataclasses.replace(snap, pending=(pending(10, 4, qos="normal", partition="high"),)), NOW,
                      policy=POLICY).preemptions == []   # (preempt/qos: normal preempts nothing)


def test_nodes_of_a_reservation_are_never_counted_on():
    from jem.model.reservation import Reservation
    runs = [running(1, "n1", 4, started_ago=600), running(2, "n2", 4, started_ago=600)]
    reservation = Reservation("r", NOW - 60, NOW + 3600, ("n1",), users=("x",))
    snap = dataclasses.replace(snapshot([node("n1", used=4), node("n2", used=4)], runs, [pending(10, 4)]),
                               reservations=(reservation,))
    assert [p.victim_id for p in plan_cycle(snap, NOW, policy=POLICY).preemptions] == [2]


def suspend_table():
    t, _ = add_qos(new_table(), [Qos("low", preempt_mode=PreemptMode.SUSPEND), Qos("cheap")])
    t, _ = add_qos(t, [Qos("high", preempt=("low", "cheap"))])
    return t


def test_suspend_mode_victims_come_with_the_nodes_their_preemptor_starts_on_now():
    runs = [running(1, "n1", 4, started_ago=600), running(2, "n2", 2, started_ago=60, qos="cheap")]
    snap = snapshot([node("n1", used=4), node("n2", used=2)], runs, [pending(10, 4)], accounting=suspend_table())
    [preemption] = plan_cycle(snap, NOW, policy=POLICY).preemptions
    assert (preemption.victim_id, preemption.mode, preemption.grace_time_s, preemption.node_names) == \
        (1, PreemptMode.SUSPEND, 0, ("n1",))


def test_a_suspended_job_is_never_a_victim_again():
    runs = [dataclasses.replace(running(1, "n1", 4, started_ago=600), is_suspended=True)]
    snap = snapshot([node("n1", used=4)], runs, [pending(10, 4)], accounting=suspend_table(),
                    partitions=(Partition("batch", ("n1",)),))
    assert plan_cycle(snap, NOW, policy=POLICY).preemptions == []


def test_two_preemptors_in_one_cycle_each_get_victims_of_their_own():
    # n1: A (2 CPUs) and B (2 CPUs) of QOS low; two high jobs of 2 CPUs each; the second may not
    # count on B's share, which the first takes: it takes A's.
    runs = [running(1, "n1", 2, started_ago=3600), running(2, "n1", 2, started_ago=300)]
    snap = snapshot([node("n1", used=4)], runs, [pending(10, 2), pending(11, 2)],
                    partitions=(Partition("batch", ("n1",)),))
    found = [(p.victim_id, p.preemptor_id) for p in plan_cycle(snap, NOW, policy=POLICY).preemptions]
    assert found == [(2, 10), (1, 11)]


def test_no_two_preemptors_count_on_the_same_free_cpus():
    # n1 has 2 CPUs free and B (2 CPUs, low): the first high job (4 CPUs) counts on both; the second
    # (3 CPUs: it cannot start on the 2 free ones) finds nothing left to take, and does not push
    # anyone off for room already promised.
    runs = [running(2, "n1", 2, started_ago=300)]
    snap = snapshot([node("n1", used=2)], runs, [pending(10, 4), pending(11, 3)],
                    partitions=(Partition("batch", ("n1",)),))
    assert [(p.victim_id, p.preemptor_id) for p in plan_cycle(snap, NOW, policy=POLICY).preemptions] == [(2, 10)]


def test_jobs_being_killed_count_for_the_first_preemptor_only():
    runs = [running(1, "n1", 4, started_ago=300, killed=True), running(2, "n2", 4, started_ago=100)]
    snap = snapshot([node("n1", used=4), node("n2", used=4)], runs, [pending(10, 4), pending(11, 4)])
    assert [(p.victim_id, p.preemptor_id) for p in plan_cycle(snap, NOW, policy=POLICY).preemptions] == [(2, 11)]


def test_no_preemptor_counts_on_what_a_job_started_this_cycle_takes():
    """n1 (4 CPUs) runs low job 1 on 2; job 10 (high, 4 CPUs) is blocked, job 11 (2 CPUs, 10 min)
    backfills on the 2 free CPUs this cycle. Pushing job 1 off would then free only 2 of the 4
    job 10 needs: nobody is preempted (job 1 would be killed in vain)."""
    n1 = Partition("batch", ("n1",))
    runs = [running(1, "n1", 2, started_ago=600)]
    snap = snapshot([node("n1", used=2)], runs, [pending(10, 4), pending(11, 2, qos="normal")], partitions=(n1,))
    decisions = plan_cycle(snap, NOW, policy=POLICY)
    assert [s.job_id for s in decisions.starts] == [11]
    assert decisions.preemptions == []


def test_no_job_behind_a_blocked_job_that_preempts_nobody_pushes_anyone_off():
    """n1 runs low job 1 and normal job 2 (2 CPUs each). Job 10 (normal: it preempts nobody, 4
    CPUs) waits first; high job 11 (2 CPUs) behind it could push job 1 off, but what job 1 leaves
    would go to job 10's reservation, not to it (and it would push another off next cycle: jem
    sim on a real trace showed the churn). In another partition, nothing holds it up."""
    runs = [running(1, "n1", 2, started_ago=600), running(2, "n1", 2, started_ago=600, qos="normal")]
    one = Partition("batch", ("n1",))
    snap = snapshot([node("n1", used=4)], runs, [pending(10, 4, qos="normal"), pending(11, 2)], partitions=(one,))
    assert plan_cycle(snap, NOW, policy=POLICY).preemptions == []
    other = Partition("other", ("n1",))
    snap = snapshot([node("n1", used=4)], runs, [pending(10, 4, qos="normal", partition="other"), pending(11, 2)],
                    partitions=(one, other))
    assert [(p.victim_id, p.preemptor_id) for p in plan_cycle(snap, NOW, policy=POLICY).preemptions] == [(1, 11)]


def test_what_a_suspended_victim_lends_is_its_preemptors_alone():
    """n1 has 1 CPU free; SUSPEND victim 1 holds 3. Preemptor 10 (2 CPUs) takes 2 of the 3 lent:
    the lent CPU it leaves is no later preemptor's, and the free one is still free."""
    from jem.scheduler.preemption import Room

    n1 = node("n1", used=3)
    snap = snapshot([n1], [running(1, "n1", 3, started_ago=600)], [pending(10, 2)],
                    partitions=(Partition("batch", ("n1",)),))
    room = Room(snap)
    room.claim(pending(10, 2), [n1], victims=list(snap.running), with_dying=False, victims_die=False)
    assert room.free["n1"] == n1.capacity - n1.allocated   # (as before: the preemptor used only what was lent)
    assert room.taken == {1}
