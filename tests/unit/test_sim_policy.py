"""jem sim under a site's whole policy: reservations ([[sim.reservations]]) and preemption
([scheduler] preempt_*, [[qos]] Preempt=/PreemptMode/GraceTime/PreemptExemptTime, [sim]
qos_by_queue), on hand-worked traces with exact starts and ends; a property test that no job
outside a reservation holds its processors during its windows; the fast path equal to the
Python loop where the policy binds nothing; and the CLI end to end on a real trace.
"""

import csv
import dataclasses
import gzip
import json
import pathlib
import tomllib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jem.cli.main import main
from jem.model.accounting import new_table
from jem.model.config import parse_config
from jem.model.errors import ConfigError
from jem.model.reservation import Reservation, ReservationFlag
from jem.model.seeding import configured_table
from jem.scheduler.policy import CONSERVATIVE, EASY, FCFS, Policy
from jem.scheduler.sim import SitePolicy, simulate
from jem.scheduler.sim_config import SIM_NODE, SimReservation, parse_sim_table
from jem.scheduler.swf import read_swf

# The first 5,000 jobs of CTC-SP2, shipped as package data (jem/data).
CTC = pathlib.Path(__file__).resolve().parents[2] / "jem" / "data" / "CTC-SP2-1996-3.1-cln-first5000.swf.gz"


def write_swf(path: pathlib.Path, records: list[tuple], procs: int = 8) -> pathlib.Path:
    """records: (job, submit, run, size, estimate, user, group, queue); other fields -1."""
    lines = [f"; MaxProcs: {procs}\n"]
    for job, submit, run, size, est, user, group, queue in records:
        fields = [job, submit, -1, run, size, -1, -1, size, est, -1, 1, user, group, -1, queue, -1, -1, -1]
        lines.append(" ".join(str(x) for x in fields) + "\n")
    path.write_text("".join(lines))
    return path


def run_sim(tmp_path, capsys, records, toml: str, *, procs: int = 8) -> tuple[dict, dict[int, tuple[int, int]]]:
    """`jem sim --json --csv` on the records under the TOML: (summary, {job: (start, end)})."""
    swf = write_swf(tmp_path / "t.swf", records, procs)
    config = tmp_path / "jem.toml"
    config.write_text(toml)
    out = tmp_path / "jobs.csv"
    assert main(["sim", str(swf), "--json", "--csv", str(out), "--config", str(config)]) == 0
    summary = json.loads(capsys.readouterr().out)
    with open(out) as f:
        return summary, {int(r["job_id"]): (int(r["start"]), int(r["end"])) for r in csv.DictReader(f)}


# ---------------------------------------------------------------- reservations

MAINT = """
[[sim.reservations]]
name = "maint"
start_s = 100
duration_s = 50
{procs}
flags = ["MAINT"]
users = ["root"]
"""


def test_a_maintenance_window_holds_back_a_job_that_would_cross_it_and_lets_a_short_one_backfill(tmp_path, capsys):
    """8 processors, all of them reserved over [100, 150). Job 1 (8) runs [0, 50). Job 2 (4 for
    80 s) would cross the window from 50: it waits for its end (150). Job 3 (4 for 30 s) ends
    before it: it starts at 50, behind job 2's reservation."""
    records = [(1, 0, 50, 8, 60, 1, 1, 1), (2, 10, 80, 4, 80, 1, 1, 1), (3, 20, 30, 4, 30, 2, 2, 1)]
    summary, jobs = run_sim(tmp_path, capsys, records, MAINT.format(procs=""))
    assert jobs == {1: (0, 50), 2: (150, 230), 3: (50, 80)}
    _, free = run_sim(tmp_path, capsys, records, "")
    assert free[2] == (50, 130)          # (without the window it would have started at 50)
    assert summary["reservation_cuts"] == 0 and summary["not_simulated"] == []


def test_a_partial_reservation_leaves_its_other_processors_to_everyone(tmp_path, capsys):
    """4 of 8 processors reserved over [100, 150). From 50: job 2 (6 for 80 s) would need 6 in
    the window: it waits until 150; job 3 (4 for 100 s) fits in the other 4 and ends by job 2's
    reservation; job 4 (2 for 30 s) ends before the window."""
    records = [(1, 0, 50, 8, 60, 1, 1, 1), (2, 10, 80, 6, 80, 1, 1, 1), (3, 20, 100, 4, 100, 2, 2, 1),
               (4, 30, 30, 2, 30, 3, 3, 1)]
    _, jobs = run_sim(tmp_path, capsys, records, MAINT.format(procs="procs = 4"))
    assert jobs == {1: (0, 50), 2: (150, 230), 3: (50, 150), 4: (50, 80)}


ACCOUNT_RESERVATION = """
[[sim.reservations]]
name = "course"
start_s = 0
duration_s = 1000
procs = 4
accounts = ["g2"]
"""


def test_an_accounts_jobs_run_in_its_reservation_and_the_others_around_it(tmp_path, capsys):
    """4 of 8 processors are g2's over [0, 1000). Job 1 (g1, 8) cannot start until the window
    ends. g2's jobs run in it: job 2 at once, job 3 when job 2 ends, cut at the window's end
    (its run is 2000 s). Job 4 (g3, 4) takes the other 4 at once (it ends long before job 1's
    reservation at 1000). Job 5 (g2) comes after the reservation is over: a plain job."""
    records = [(1, 0, 100, 8, 100, 1, 1, 1), (2, 10, 50, 4, 50, 2, 2, 1), (3, 20, 2000, 4, 2000, 2, 2, 1),
               (4, 30, 100, 4, 100, 3, 3, 1), (5, 1200, 10, 8, 10, 2, 2, 1)]
    summary, jobs = run_sim(tmp_path, capsys, records, ACCOUNT_RESERVATION)
    assert jobs == {1: (1000, 1100), 2: (10, 60), 3: (60, 1000), 4: (30, 130), 5: (1200, 1210)}
    assert summary["reservation_cuts"] == 1


def test_a_daily_reservations_members_wait_for_its_next_window(tmp_path, capsys):
    """g2's reservation of 2 processors is on [0, 3600) every day. Job 1 (g2), submitted at
    7200, starts at the next window, 86400; job 2 (g1, 8 for 80,000 s) would cross it on every
    processor: it starts when it ends (86400 + 3600), and ends before the one after (172800)."""
    toml = ACCOUNT_RESERVATION.replace("duration_s = 1000", 'duration_s = 3600\nflags = ["DAILY"]') \
        .replace("procs = 4", "procs = 2")
    records = [(1, 7200, 100, 2, 100, 2, 2, 1), (2, 7300, 80000, 8, 80000, 1, 1, 1)]
    _, jobs = run_sim(tmp_path, capsys, records, toml)
    assert jobs == {1: (86400, 86500), 2: (90000, 170000)}


@st.composite
def reserved_traces(draw):
    n = draw(st.integers(1, 12))
    records = []
    for job in range(1, n + 1):
        run = draw(st.integers(0, 300))
        records.append((job, draw(st.integers(0, 600)), run, draw(st.integers(1, 8)), run + draw(st.integers(0, 200)),
                        job, draw(st.integers(1, 3)), 1))
    flags = frozenset(ReservationFlag(f) for f in draw(st.sampled_from([[], ["MAINT"], ["DAILY"]])))
    start = draw(st.integers(0, 500))
    reservation = Reservation("r", float(start), float(start + draw(st.integers(1, 400))), (SIM_NODE,),
                              accounts=("g1",), flags=flags)
    reservation = SimReservation(reservation, draw(st.integers(1, 8)))
    return records, reservation, draw(st.sampled_from([FCFS, EASY, CONSERVATIVE]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reserved_traces())
def test_no_job_outside_a_reservation_holds_its_processors_during_its_windows(tmp_path, case):
    records, held, policy = case
    trace = read_swf(str(write_swf(tmp_path / "p.swf", records)))
    result = simulate(trace, policy, site=SitePolicy(reservations=(held,)))
    o, k, reservation = result.outcome, held.procs, held.reservation
    windows = [(reservation.start_time + d * 86400, reservation.end_time + d * 86400)
               for d in range(3 if reservation.period_s else 1)]
    member = np.array([g == 1 for g in trace.group[o.run_job].tolist()], dtype=bool)
    sizes = trace.size[o.run_job]
    for start, end in windows:
        for t in [start, *o.run_start.tolist(), *o.run_end.tolist()]:
            if not start <= t < end:
                continue
            on = (o.run_start <= t) & (t < o.run_end)
            assert sizes[on & ~member].sum() <= trace.procs - k, (t, start, end)
            assert sizes[on & member].sum() <= k
    for t in o.run_start.tolist():   # (never more than the machine)
        assert sizes[(o.run_start <= t) & (t < o.run_end)].sum() <= trace.procs
    for job, start, end in zip(o.run_job.tolist(), o.run_start.tolist(), o.run_end.tolist()):
        if member[o.run_job == job].any() and any(s < end and start < e for s, e in windows):
            assert any(s <= start and end <= e for s, e in windows), (job, start, end)   # (members: inside it)
        assert result.start_s[job] >= trace.submit_s[job]


def test_sim_tables_are_checked_with_the_key_named(tmp_path):
    with pytest.raises(ConfigError, match=r"sim.reservations\[0\]: give one of start"):
        parse_sim_table({"reservations": [{"name": "m", "duration_s": 10, "users": ["root"]}]})
    with pytest.raises(ConfigError, match=r"no users or accounts"):
        parse_sim_table({"reservations": [{"name": "m", "start_s": 0, "duration_s": 10}]})
    with pytest.raises(ConfigError, match=r"sim.typo: unknown key"):
        parse_sim_table({"typo": 1})
    with pytest.raises(ConfigError, match=r"sim.qos_by_queue.x"):
        parse_sim_table({"qos_by_queue": {"x": "high"}})
    two = tomllib.loads(MAINT.format(procs="procs = 5") + MAINT.format(procs="procs = 4").replace('"maint"', '"m2"'))
    trace = read_swf(str(write_swf(tmp_path / "t.swf", [(1, 0, 10, 1, 10, 1, 1, 1)])))
    with pytest.raises(ConfigError, match="hold 9 processors at once"):
        simulate(trace, EASY, site=SitePolicy(reservations=parse_sim_table(two["sim"]).reservations))
    swf, config = tmp_path / "t.swf", tmp_path / "bad.toml"
    config.write_text('[sim]\nqos_by_queue = {"1" = "nosuch"}\n')
    assert main(["sim", str(swf), "--config", str(config)]) == 1


# ---------------------------------------------------------------- preemption

PREEMPTION = """
[scheduler]
preempt_type = "qos"
preempt_mode = "{mode}"
[[qos]]
name = "low"
{low}
[[qos]]
name = "high"
priority = 100
preempt = ["low"]
[sim]
qos_by_queue = {{"1" = "low", "2" = "high"}}
"""
# Job 1 (QOS low) holds all 8 processors over [0, 100); job 2 (QOS high, 4 for 50 s) comes at 10.
LOW_THEN_HIGH = [(1, 0, 100, 8, 100, 1, 1, 1), (2, 10, 50, 4, 50, 2, 2, 2)]


def test_a_high_qos_job_cancels_a_low_one_whose_remaining_work_is_lost(tmp_path, capsys):
    summary, jobs = run_sim(tmp_path, capsys, LOW_THEN_HIGH, PREEMPTION.format(mode="cancel", low=""))
    assert jobs == {1: (0, 10), 2: (10, 60)}
    assert (summary["preempted"], summary["requeues"], summary["lost_cpu_s"]) == (1, 0, 90 * 8)
    assert summary["accounts"]["g1"]["preempted"] == 1 and summary["accounts"]["g1"]["lost_cpu_s"] == 720
    assert summary["accounts"]["g2"]["preempted"] == 0


def test_a_requeued_victim_runs_again_from_the_start_after_the_requeue_delay(tmp_path, capsys):
    """Requeued at 10, eligible again at 10 + 1201 (Slurm's delay): it reruns all of its 100 s."""
    summary, jobs = run_sim(tmp_path, capsys, LOW_THEN_HIGH, PREEMPTION.format(mode="requeue", low=""))
    assert jobs == {1: (1211, 1311), 2: (10, 60)}
    assert (summary["preempted"], summary["requeues"], summary["lost_cpu_s"]) == (0, 1, 10 * 8)
    assert summary["accounts"]["g1"]["requeues"] == 1


def test_a_cluster_that_does_not_requeue_cancels_instead(tmp_path, capsys):
    toml = "[cluster]\nrequeue_on_node_failure = false\n" + PREEMPTION.format(mode="requeue", low="")
    summary, jobs = run_sim(tmp_path, capsys, LOW_THEN_HIGH, toml)
    assert jobs == {1: (0, 10), 2: (10, 60)} and (summary["preempted"], summary["requeues"]) == (1, 0)


def test_grace_time_delays_the_victims_end_and_the_preemptors_start(tmp_path, capsys):
    summary, jobs = run_sim(tmp_path, capsys, LOW_THEN_HIGH, PREEMPTION.format(mode="cancel", low="grace_time = 30"))
    assert jobs == {1: (0, 40), 2: (40, 90)} and summary["lost_cpu_s"] == 60 * 8


def test_a_victim_is_exempt_for_its_preempt_exempt_time(tmp_path, capsys):
    """Job 1 may be preempted only from 60 on: the simulator has an instant there."""
    toml = PREEMPTION.format(mode="cancel", low='preempt_exempt_time = "1:00"')
    summary, jobs = run_sim(tmp_path, capsys, LOW_THEN_HIGH, toml)
    assert jobs == {1: (0, 60), 2: (60, 110)} and summary["lost_cpu_s"] == 40 * 8


def test_a_victim_that_ends_within_its_grace_time_completes(tmp_path, capsys):
    records = [(1, 0, 20, 8, 100, 1, 1, 1), (2, 10, 50, 4, 50, 2, 2, 2)]
    summary, jobs = run_sim(tmp_path, capsys, records, PREEMPTION.format(mode="cancel", low="grace_time = 30"))
    assert jobs == {1: (0, 20), 2: (20, 70)} and (summary["preempted"], summary["lost_cpu_s"]) == (0, 0)


def test_a_suspended_victim_resumes_when_its_preemptor_ends_later_by_exactly_the_time_suspended(tmp_path, capsys):
    """Job 2 (high, 4) suspends job 1 (low, 8) at 10 and starts then, on 4 of its processors
    (GraceTime does not apply); it ends at 60, job 1 resumes with its 90 s left and ends at
    100 + 50. Utilization counts job 1's processors as idle while it is suspended."""
    summary, jobs = run_sim(tmp_path, capsys, LOW_THEN_HIGH, PREEMPTION.format(mode="suspend", low="grace_time = 30"))
    assert jobs == {1: (0, 150), 2: (10, 60)}
    assert (summary["suspensions"], summary["suspended_cpu_s"]) == (1, 50 * 8)
    assert (summary["preempted"], summary["requeues"], summary["lost_cpu_s"], summary["not_simulated"]) == (0, 0, 0, [])
    assert (summary["accounts"]["g1"]["suspensions"], summary["accounts"]["g1"]["suspended_cpu_s"]) == (1, 400)
    assert summary["accounts"]["g2"]["suspensions"] == 0
    assert summary["utilization"] == pytest.approx((100 * 8 + 50 * 4) / (8 * 150), abs=1e-6)
    swf, config = tmp_path / "t.swf", tmp_path / "jem.toml"
    assert main(["sim", str(swf), "--config", str(config)]) == 0
    text = capsys.readouterr().out
    assert "1 suspended (400 CPU-s)" in text and "NOT SIMULATED" not in text


def test_the_planner_sees_a_suspended_jobs_end_moved_by_its_suspension(tmp_path, capsys):
    """10 processors. Job 2 (high, 4 for 50 s) suspends job 1 (low, 8, limit 100 s) at 10: job
    1's planned end moves to 100 + (60 - 10) = 150. Job 3 (10 processors), waiting from 20, is
    reserved at 150; job 4 (2 for 120 s) fits in the 2 free processors from 30 and ends by 150:
    it backfills (with job 1 planned to end at 100 it would delay job 3, and wait)."""
    records = [(1, 0, 100, 8, 100, 1, 1, 1), (2, 10, 50, 4, 50, 2, 2, 2), (3, 20, 10, 10, 10, 3, 3, 4),
               (4, 30, 120, 2, 120, 4, 4, 4)]
    summary, jobs = run_sim(tmp_path, capsys, records, PREEMPTION.format(mode="suspend", low=""), procs=10)
    assert jobs == {1: (0, 150), 2: (10, 60), 3: (150, 160), 4: (30, 150)}
    assert summary["suspended_cpu_s"] == 50 * 8


def test_a_suspended_job_is_not_preempted_again_while_it_is_suspended(tmp_path, capsys):
    """Job 3 (high, 4) comes at 20, while job 1 is suspended for job 2 and 4 of its processors
    idle (lent to job 2 alone): it could only suspend job 1 again, which it may not. It waits
    for job 2's end at 60, when job 1 resumes; job 1 is then a victim like any running job, and
    job 3 suspends it over [60, 90): job 1 ends at 100 + 50 + 30."""
    records = LOW_THEN_HIGH + [(3, 20, 30, 4, 30, 3, 3, 2)]
    summary, jobs = run_sim(tmp_path, capsys, records, PREEMPTION.format(mode="suspend", low=""))
    assert jobs == {1: (0, 180), 2: (10, 60), 3: (60, 90)}
    assert (summary["suspensions"], summary["suspended_cpu_s"]) == (2, (50 + 30) * 8)


def test_a_preemptor_on_lent_processors_may_be_suspended_and_lends_only_its_own(tmp_path, capsys):
    """8 processors; QOS mid suspends low, high suspends mid. Job 1 (low, 4) and job 2 (normal,
    2) run from 0. At 10, job 3 (mid, 6 for 50 s) suspends job 1 and runs on its 4 and the 2
    free. At 20, job 4 (high, 2 for 10 s) suspends job 3, whose own 2 processors it runs on.
    Job 3 resumes at 30 (40 s left: ends at 70), job 1 at 70 (90 s left: ends at 160)."""
    toml = PREEMPTION.format(mode="suspend", low="").replace(
        'name = "high"', 'name = "mid"\npreempt = ["low"]\n[[qos]]\nname = "high"').replace(
        'preempt = ["low"]\n[sim]', 'preempt = ["mid"]\n[sim]').replace('"2" = "high"', '"2" = "high", "3" = "mid"')
    records = [(1, 0, 100, 4, 100, 1, 1, 1), (2, 0, 200, 2, 200, 2, 2, 4), (3, 10, 50, 6, 50, 3, 3, 3),
               (4, 20, 10, 2, 10, 4, 4, 2)]
    summary, jobs = run_sim(tmp_path, capsys, records, toml)
    assert jobs == {1: (0, 160), 2: (0, 200), 3: (10, 70), 4: (20, 30)}
    assert (summary["suspensions"], summary["suspended_cpu_s"]) == (2, 60 * 4 + 10 * 6)


def test_a_limit_keeps_a_preemptor_from_suspending_until_it_would_start(tmp_path, capsys):
    """QOS high may run one job at a time (GrpJobs=1). Jobs 1 and 2 (low, 4 each) run from 0; job
    3 (high) suspends job 1 at 10. Job 4 (high), from 20, is held by the limit (it would not
    start): it suspends nobody until job 3 ends at 60; then it suspends job 1 again (the
    youngest, ties by id), resumed at that instant, until 90."""
    toml = PREEMPTION.format(mode="suspend", low="").replace('preempt = ["low"]', 'preempt = ["low"]\ngrp_jobs = 1') \
        + '[accounting]\nenforce = ["limits", "qos"]\n'
    records = [(1, 0, 100, 4, 100, 1, 1, 1), (2, 0, 100, 4, 100, 2, 2, 1), (3, 10, 50, 4, 50, 3, 3, 2),
               (4, 20, 30, 4, 30, 4, 4, 2)]
    summary, jobs = run_sim(tmp_path, capsys, records, toml)
    assert jobs == {1: (0, 180), 2: (0, 100), 3: (10, 60), 4: (60, 90)}
    assert (summary["suspensions"], summary["suspended_cpu_s"]) == (2, (50 + 30) * 4)


def test_no_victim_is_suspended_into_a_maintenance_window(tmp_path, capsys):
    """All 8 processors are reserved over [100, 150). Job 1 (low, 8 for 50 s, limit 60) runs from
    0. Job 2 (high, 4 for 30 s) comes at 10: with a limit of 30 s, suspending job 1 moves its
    planned end to 90, before the window: job 1 is suspended until 40 and ends at 80. With a
    limit of 50 s job 1 would be planned to end at 110, in the window: it is not suspended,
    and job 2 starts when job 1 ends (it ends by the window)."""
    toml = PREEMPTION.format(mode="suspend", low="") + MAINT.format(procs="")
    for limit_s, expected in ((30, {1: (0, 80), 2: (10, 40)}), (50, {1: (0, 50), 2: (50, 80)})):
        records = [(1, 0, 50, 8, 60, 1, 1, 1), (2, 10, 30, 4, limit_s, 2, 2, 2)]
        summary, jobs = run_sim(tmp_path, capsys, records, toml)
        assert jobs == expected and summary["suspensions"] == (limit_s == 30)


MIXED = """
[scheduler]
preempt_type = "qos"
preempt_mode = "requeue"
[[qos]]
name = "low"
preempt_mode = "suspend"
[[qos]]
name = "scav"
[[qos]]
name = "high"
priority = 100
preempt = ["low", "scav"]
[sim]
qos_by_queue = {"1" = "low", "2" = "high", "3" = "scav"}
"""


def test_suspend_and_requeue_qos_coexist_and_suspending_alone_is_preferred(tmp_path, capsys):
    """8 processors: job 1 (scav: the cluster's REQUEUE, 4) and job 2 (low: SUSPEND, 4) run from
    0. Job 3 (high, 4) at 10 may push off either: suspending job 2 alone makes room, so it does
    (job 1 runs on); job 2 resumes at 60 and ends at 150. Job 4 (high, 4) at 20 finds job 2
    suspended and job 3 high: it requeues job 1, which runs again from 20 + 1201."""
    records = [(1, 0, 100, 4, 100, 1, 1, 3), (2, 0, 100, 4, 100, 2, 2, 1), (3, 10, 50, 4, 50, 3, 3, 2),
               (4, 20, 50, 4, 50, 4, 4, 2)]
    summary, jobs = run_sim(tmp_path, capsys, records, MIXED)
    assert jobs == {1: (1221, 1321), 2: (0, 150), 3: (10, 60), 4: (20, 70)}
    assert (summary["requeues"], summary["lost_cpu_s"], summary["suspensions"], summary["suspended_cpu_s"]) == \
        (1, 20 * 4, 1, 50 * 4)
    assert summary["accounts"]["g1"]["requeues"] == 1 and summary["accounts"]["g2"]["suspensions"] == 1


# QOS mid (SUSPEND) suspends low; high pushes off low, scav and mid.
MIXED_CHAIN = MIXED.replace('name = "high"', 'name = "mid"\npreempt_mode = "suspend"\npreempt = ["low"]\n'
                            '[[qos]]\nname = "high"') \
    .replace('preempt = ["low", "scav"]', 'preempt = ["low", "scav", "mid"]') \
    .replace('"3" = "scav"', '"3" = "scav", "4" = "mid"')


def test_a_preemptor_does_not_start_on_processors_lent_to_another(tmp_path, capsys):
    """8 processors: job 1 (low, 5) and job 2 (mid, 2) run from 0, 1 free. At 10, job 3 (mid, 2)
    suspends job 1 and runs on 2 of its 5; the other 3 are lent to it alone. Job 4 (high, 6),
    next in the queue, is planned to suspend job 2 and count on those 3 (the scheduler's Room):
    as in the controller, whose check of live state refuses it, it does not start and job 2
    runs on. At 60 job 3 ends, job 1 resumes, and job 4 suspends it until 70."""
    records = [(1, 0, 100, 5, 100, 1, 1, 1), (2, 0, 100, 2, 100, 2, 2, 4), (3, 10, 50, 2, 50, 3, 3, 4),
               (4, 10, 10, 6, 10, 4, 4, 2)]
    summary, jobs = run_sim(tmp_path, capsys, records, MIXED_CHAIN)
    assert jobs == {1: (0, 160), 2: (0, 100), 3: (10, 60), 4: (60, 70)}
    assert (summary["suspensions"], summary["suspended_cpu_s"]) == (2, (50 + 10) * 5)


@st.composite
def preempting_traces(draw):
    """Jobs of QOS low (SUSPEND), scav (REQUEUE, a GraceTime), mid (SUSPEND; suspends low),
    high (pushes off all three) and normal, on 8 processors."""
    n = draw(st.integers(1, 14))
    records = []
    for job in range(1, n + 1):
        run = draw(st.integers(0, 300))
        records.append((job, draw(st.integers(0, 200)), run, draw(st.integers(1, 8)), run + draw(st.integers(0, 100)),
                        job, draw(st.integers(1, 3)), draw(st.integers(1, 5))))
    return records, draw(st.integers(0, 40)), draw(st.sampled_from([FCFS, EASY, CONSERVATIVE]))




@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(preempting_traces())
def test_suspension_never_over_allocates_and_every_run_lasts_its_run_time_unsuspended(tmp_path, case):
    check_suspension(tmp_path, *case)


def test_suspension_holds_its_invariants_on_seeded_random_traces(tmp_path):
    """As the property test, on 600 seeded random traces, denser in preemptions than hypothesis's
    first examples (they found a preemptor counting on processors lent to another, and victims
    held into a reservation's window); half of them with a reservation of g2's."""
    rng = np.random.default_rng(20261207)
    for case in range(600):
        n = int(rng.integers(2, 15))
        run = rng.integers(0, 301, n)
        records = [(j + 1, int(rng.integers(0, 201)), int(run[j]), int(rng.integers(1, 9)),
                    int(run[j] + rng.integers(0, 101)), j + 1, int(rng.integers(1, 4)), int(rng.integers(1, 6)))
                   for j in range(n)]
        held = None
        if case % 2:
            start = int(rng.integers(0, 300))
            window = Reservation("r", float(start), float(start + rng.integers(1, 200)), (SIM_NODE,), accounts=("g2",),
                                 flags=frozenset({ReservationFlag.MAINT}))
            held = SimReservation(window, int(rng.integers(1, 9)))
        check_suspension(tmp_path, records, int(rng.integers(0, 41)), [FCFS, EASY, CONSERVATIVE][int(rng.integers(3))],
                         held=held)


def check_suspension(tmp_path, records: list[tuple], grace_s: int, policy: Policy, *,
                     held: SimReservation | None = None) -> None:
    """Whatever is suspended, requeued or both: at every instant the processors held (running
    jobs, suspended ones, less what each preemptor runs on of its victims' share) are at most
    the machine, and during a reservation's window, those of the jobs outside it at most the
    rest; a preemptor runs from its victims' suspension to their resumption; and every job's
    last run lasts its trace run time plus the time it was suspended."""
    config = parse_config(tomllib.loads(MIXED_CHAIN.split("[sim]")[0].replace(
        'name = "scav"', f'name = "scav"\ngrace_time = {grace_s}')))
    queues = {1: "low", 2: "high", 3: "scav", 4: "mid", 5: "normal"}
    trace = read_swf(str(write_swf(tmp_path / "p.swf", records)))
    qos = tuple(queues[r[7]] for r in sorted(records, key=lambda r: (r[1], r[0])))
    site = SitePolicy(qos=qos, table=configured_table(new_table(), config), reservations=(held,) if held else ())
    result = simulate(trace, dataclasses.replace(policy, preemption=Policy.from_config(config).preemption), site=site)
    o, size = result.outcome, trace.size
    susp = o.suspended
    for job, frm, to, preemptor in susp.tolist():   # (the preemptor's run is exactly the suspension)
        assert ((o.run_job == preemptor) & (o.run_start == frm) & (o.run_end == to)).any()
        assert ((o.run_job == job) & (o.run_start <= frm) & (to < o.run_end)).any()
    window = None if held is None else (held.reservation.start_time, held.reservation.end_time, held.procs)
    instants = sorted({*o.run_start.tolist(), *o.run_end.tolist(), *susp[:, 1].tolist(),
                       *([] if window is None else [int(window[0])])})
    for t in instants:
        on = (o.run_start <= t) & (t < o.run_end)
        held = int(size[o.run_job[on]].sum())   # (suspended jobs still hold their share)
        lending = (susp[:, 1] <= t) & (t < susp[:, 2])
        for preemptor in set(susp[lending, 3].tolist()):
            lent = int(size[susp[lending & (susp[:, 3] == preemptor), 0]].sum())
            held -= min(int(size[preemptor]), lent)
        assert held <= trace.procs, t
        running = int(size[o.run_job[on]].sum()) - int(size[susp[lending, 0]].sum())
        assert running <= trace.procs, t
        if window is not None and window[0] <= t < window[1]:   # (members run only inside it, never preempt)
            outside = on & ~((trace.group[o.run_job] == 2) & (o.run_start >= window[0]))
            assert held - int(size[o.run_job[on & ~outside]].sum()) <= trace.procs - window[2], t
    for job in np.flatnonzero(result.start_s >= 0).tolist():
        if o.preempted[job] or o.cut[job]:
            continue
        start, end = int(result.start_s[job]), int(result.end_s[job])
        mine = susp[(susp[:, 0] == job) & (susp[:, 1] >= start) & (susp[:, 2] <= end)]
        assert end - start - int((mine[:, 2] - mine[:, 1]).sum()) == int(trace.run_s[job]), job
    assert o.suspended_cpu_s.sum() == int(((susp[:, 2] - susp[:, 1]) * size[susp[:, 0]]).sum())
    assert result.summary()["suspensions"] == len(susp) and result.summary()["not_simulated"] == []


def test_a_preemptor_never_counts_on_a_reservations_processors(tmp_path, capsys):
    """4 of 8 processors are reserved over [0, 1000) for root. Job 1 (low, 4) runs in the other
    4; job 2 (high, 6) could not run outside the reservation even with job 1 gone: nobody is
    preempted, and job 2 starts when the window ends."""
    records = [(1, 0, 100, 4, 100, 1, 1, 1), (2, 10, 50, 6, 50, 2, 2, 2)]
    toml = PREEMPTION.format(mode="cancel", low="") + MAINT.format(procs="procs = 4").replace(
        "start_s = 100", "start_s = 0").replace("duration_s = 50", "duration_s = 1000")
    summary, jobs = run_sim(tmp_path, capsys, records, toml)
    assert jobs == {1: (0, 100), 2: (1000, 1050)} and summary["preempted"] == 0


def test_a_no_reserve_qos_job_holds_no_reservation(tmp_path, capsys):
    """Job 1 holds 4 of 8 processors until 100; job 2 (8) waits. Holding a reservation at 100,
    it keeps job 3 (4 for 200 s) waiting; under a NoReserve QOS it holds none, and job 3 runs
    at once, ahead of it."""
    records = [(1, 0, 100, 4, 100, 1, 1, 1), (2, 10, 50, 8, 50, 2, 2, 2), (3, 20, 200, 4, 200, 3, 3, 1)]
    toml = '[[qos]]\nname = "{flags}"\n{line}\n[sim]\nqos_by_queue = {{"2" = "{flags}"}}\n'
    _, plain = run_sim(tmp_path, capsys, records, toml.format(flags="plain", line=""))
    _, no_reserve = run_sim(tmp_path, capsys, records, toml.format(flags="nores", line='flags = ["NoReserve"]'))
    assert plain == {1: (0, 100), 2: (100, 150), 3: (150, 350)}
    assert no_reserve == {1: (0, 100), 2: (220, 270), 3: (20, 220)}


# ---------------------------------------------------------------- the fast path, and a real trace

@pytest.mark.parametrize("policy", [FCFS, EASY, CONSERVATIVE], ids=lambda p: p.name)
def test_the_python_loop_equals_the_c_replay_where_the_site_policy_binds_nothing(tmp_path, policy):
    """A reservation after every job's planned window, or every job of a QOS that may preempt a
    QOS no job has, take the Python loop (reservations, preemption) and change no start. (A plan
    may start a job as late as the last start plus an estimate, and end it an estimate later: a
    reservation nearer than that moves a planned start, and so the backfill around it, as on CTC.)"""
    trace = read_swf(str(CTC), limit=1500)
    fast = simulate(trace, policy)
    after = int(fast.start_s.max() + 2 * trace.estimate_s.max()) + 1
    table = parse_sim_table({"reservations": [{"name": "later", "start_s": after, "duration_s": 60,
                                               "users": ["root"]}]})
    config = parse_config(tomllib.loads('[scheduler]\npreempt_type = "qos"\n[[qos]]\nname = "low"\n'
                                        '[[qos]]\nname = "high"\npreempt = ["low"]\n'))
    preempting = SitePolicy(qos=("high",) * len(trace), table=configured_table(new_table(), config))
    for site in (SitePolicy(reservations=table.reservations), preempting):
        slow = simulate(trace, dataclasses.replace(policy, preemption=Policy.from_config(config).preemption),
                        site=site)
        assert np.array_equal(fast.start_s, slow.start_s) and np.array_equal(fast.end_s, slow.end_s)
        assert fast.summary()["avg_wait_s"] == slow.summary()["avg_wait_s"]


REAL_POLICY = """
[scheduler]
preempt_type = "qos"
preempt_mode = "cancel"
[[qos]]
name = "low"
[[qos]]
name = "high"
priority = 100
preempt = ["low"]
[priority]
weight_qos = 10000
weight_age = 1000
[sim]
qos_by_queue = {"1" = "low", "3" = "high"}
[[sim.reservations]]
name = "maint"
start = "5-00:00:00"
duration = "12:00:00"
procs = 200
flags = ["MAINT"]
users = ["root"]
"""


def test_jem_sim_replays_a_real_trace_under_a_site_policy(tmp_path, capsys):
    """The first 2,000 jobs of CTC-SP2 (338 processors; queues 1 and 3 as QOS low and high),
    200 processors down for maintenance over day 5: the JSON has its keys, jobs are preempted,
    and during the window the machine is never busier than its 138 other processors."""
    lines, kept = [], 0
    with gzip.open(CTC, "rt") as f:
        for line in f:
            if not line.startswith(";") and line.strip():
                if kept == 2000:
                    break
                kept += 1
            lines.append(line)
    swf, config, out = tmp_path / "ctc.swf", tmp_path / "jem.toml", tmp_path / "jobs.csv"
    swf.write_text("".join(lines))
    config.write_text(REAL_POLICY)
    assert main(["sim", str(swf), "--json", "--csv", str(out), "--config", str(config)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {"jobs", "makespan_s", "avg_wait_s", "avg_bsld", "utilization", "sim_seconds", "accounts", "preempted",
            "requeues", "lost_cpu_s", "reservation_cuts", "suspensions", "suspended_cpu_s",
            "not_simulated"} == set(summary)
    assert summary["jobs"] == 2000 and summary["preempted"] > 0 and summary["lost_cpu_s"] > 0
    assert 0 < summary["utilization"] <= 1 and summary["not_simulated"] == []
    with open(out) as f:
        runs = [(int(r["start"]), int(r["end"]), int(r["procs"])) for r in csv.DictReader(f)]
    start, end = 5 * 86400, 5 * 86400 + 12 * 3600
    instants = [start] + [s for s, _, _ in runs if start <= s < end]
    busy = [sum(p for s, e, p in runs if s <= t < e) for t in instants]
    assert 0 < max(busy) <= 338 - 200   # (the other processors are used meanwhile)
