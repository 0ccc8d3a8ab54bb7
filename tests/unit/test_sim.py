"""jem sim: SWF conventions, start times equal to an independent textbook EASY/FCFS
simulator (tests/oracle/easy_ref.py) on prefixes of the trace shipped in jem/data (the
first 5,000 jobs of CTC-SP2) and of every trace in ../shared/traces where there are some,
the C and Python event loops agreeing, the JSON/CSV surface, the plot's binned series, and
fair-share shares.

The full traces are compared by benchmarks/sim_compare.py (minutes, not a test).
"""

import csv
import gzip
import importlib.util
import json
import pathlib

import numpy as np
import pytest

from jem.cli.main import main
from jem.model.config import PriorityConfig, parse_config
from jem.scheduler.policy import CONSERVATIVE, EASY, FCFS, Policy
from jem.scheduler.sim import simulate
from jem.scheduler.swf import read_swf
from tests.oracle import easy_ref

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "jem" / "data" / "CTC-SP2-1996-3.1-cln-first5000.swf.gz"   # (package data: a real trace)
TRACES = ROOT.parent / "shared" / "traces"
TRACE_FILES = [SHIPPED, *sorted(TRACES.glob("*.swf.gz"))]
PREFIX = 2500


def prefix_file(trace: pathlib.Path, tmp_path: pathlib.Path, n_records: int) -> pathlib.Path:
    """The header and the first n_records job records of `trace`, as a plain .swf."""
    out = tmp_path / trace.name.replace(".swf.gz", f"-{n_records}.swf")
    kept, lines = 0, []
    with gzip.open(trace, "rt") as f:
        for line in f:
            if not line.startswith(";") and line.strip():
                if kept == n_records:
                    break
                kept += 1
            lines.append(line)
    out.write_text("".join(lines))
    return out


def csv_starts(path: pathlib.Path) -> dict[int, int]:
    with open(path) as f:
        return {int(row["job_id"]): int(row["start"]) for row in csv.DictReader(f)}


def write_swf(path: pathlib.Path, records: list[tuple], header: str = "; MaxProcs: 8\n") -> pathlib.Path:
    """records: (job, submit, run, alloc, req, estimate, user, group); other fields -1."""
    lines = [header]
    for job, submit, run, alloc, req, est, user, group in records:
        fields = [job, submit, -1, run, alloc, -1, -1, req, est, -1, 1, user, group, -1, -1, -1, -1, -1]
        lines.append(" ".join(str(x) for x in fields) + "\n")
    path.write_text("".join(lines))
    return path


# ---------------------------------------------------------------- against the textbook simulator

@pytest.mark.parametrize("policy", ["easy", "fcfs"])
@pytest.mark.parametrize("trace", TRACE_FILES, ids=lambda p: p.name.split("-")[0] + ("-shipped" if p == SHIPPED else ""))
def test_sim_csv_start_times_equal_the_textbook_simulator(trace, policy, tmp_path):
    swf = prefix_file(trace, tmp_path, PREFIX)
    out = tmp_path / "jobs.csv"
    assert main(["sim", str(swf), "--policy", policy, "--csv", str(out), "--json"]) == 0
    expected = {job: v[1] for job, v in easy_ref.simulate(str(swf), policy).items()}
    assert len(expected) > PREFIX // 2
    assert csv_starts(out) == expected


def test_the_shipped_trace_is_a_cut_of_ctc_sp2_that_names_its_source():
    trace = read_swf(str(SHIPPED))
    assert (len(trace), trace.procs, trace.n_skipped) == (5000, 338, 0)
    with gzip.open(SHIPPED, "rt") as f:
        header = "".join(line for line in f if line.startswith(";"))
    assert "CTC-SP2-1996-3.1-cln.swf.gz" in header and "lines 1-5029" in header and "Parallel Workloads" in header
    assert "; Acknowledge: Dan Dwyer and Steve Hotovy" in header and "; MaxProcs: 338" in header


def test_gzipped_trace_reads_like_the_plain_one(tmp_path):
    swf = prefix_file(SHIPPED, tmp_path, 300)
    gz = tmp_path / "t.swf.gz"
    gz.write_bytes(gzip.compress(swf.read_bytes()))
    a, b = read_swf(str(swf)), read_swf(str(gz))
    assert a.procs == b.procs and np.array_equal(a.submit_s, b.submit_s) and np.array_equal(a.size, b.size)


@pytest.mark.parametrize("policy", [FCFS, EASY, CONSERVATIVE], ids=lambda p: p.name)
def test_python_and_c_event_loops_agree(policy):
    """Equal priorities (a QOS weight, every QOS factor 0) take the Python loop, in submit order."""
    trace = read_swf(str(SHIPPED), limit=1500)
    by_priority = Policy(reservation_depth=policy.reservation_depth, priority=PriorityConfig(weight_qos=1))
    assert np.array_equal(simulate(trace, policy).start_s, simulate(trace, by_priority).start_s)


@pytest.mark.parametrize("policy", [FCFS, EASY, CONSERVATIVE], ids=lambda p: p.name)
def test_simulated_machine_is_never_over_allocated(policy):
    trace = read_swf(str(SHIPPED), limit=2000)
    result = simulate(trace, policy)
    assert (result.start_s >= trace.submit_s).all()
    _, busy, queued = result.series()
    assert busy.max() <= trace.procs and busy.min() >= 0 and queued.min() >= 0


def test_backfilling_never_waits_longer_on_average_than_fcfs():
    trace = read_swf(str(SHIPPED), limit=2000)
    waits = {p.name: simulate(trace, p).summary()["avg_wait_s"] for p in (FCFS, EASY, CONSERVATIVE)}
    assert waits["easy"] < waits["fcfs"] and waits["conservative"] < waits["fcfs"]


# ---------------------------------------------------------------- conventions and output

def test_swf_conventions_size_estimate_and_skips(tmp_path):
    swf = write_swf(tmp_path / "t.swf", [
        (1, 0, 100, 4, -1, 50, 1, 1),     # no requested procs: allocated 4; estimate raised to the run time
        (2, 5, 10, 2, 3, -1, 1, 1),       # requested 3 wins; no estimate: the run time
        (3, 5, -1, 2, 2, 10, 1, 1),       # run time < 0: skipped
        (4, 6, 10, -1, -1, 10, 1, 1),     # size <= 0: skipped
        (5, 7, 10, 9, 9, 10, 1, 1),       # larger than the machine: skipped
        (6, 3, 0, 1, 1, -1, 2, 7),        # run time 0: estimate 1 s
    ])
    trace = read_swf(str(swf))
    assert trace.procs == 8 and trace.n_skipped == 3
    assert trace.job_number.tolist() == [1, 6, 2]                # submit order
    assert trace.size.tolist() == [4, 1, 3]
    assert trace.estimate_s.tolist() == [100, 1, 10]
    assert read_swf(str(swf), procs=16).n_skipped == 2


def test_machine_falls_back_to_max_nodes_and_else_needs_procs(tmp_path):
    rec = [(1, 0, 10, 1, 1, 10, 1, 1)]
    assert read_swf(str(write_swf(tmp_path / "a.swf", rec, "; MaxNodes: 5\n"))).procs == 5
    bare = write_swf(tmp_path / "b.swf", rec, "")
    with pytest.raises(ValueError, match="--procs"):
        read_swf(str(bare))
    assert main(["sim", str(bare)]) == 1
    assert main(["sim", str(bare), "--procs", "4", "--json"]) == 0


def test_json_has_exactly_the_documented_keys(tmp_path, capsys):
    swf = write_swf(tmp_path / "t.swf", [(1, 0, 100, 8, 8, 100, 1, 1), (2, 0, 50, 4, 4, 60, 2, 2),
                                         (3, 10, 20, 4, 4, 20, 3, 2)])
    assert main(["sim", str(swf), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"jobs", "makespan_s", "avg_wait_s", "avg_bsld", "utilization", "sim_seconds", "accounts",
                        "preempted", "requeues", "lost_cpu_s", "reservation_cuts", "suspensions", "suspended_cpu_s",
                        "not_simulated"}
    assert (out["preempted"], out["requeues"], out["lost_cpu_s"], out["reservation_cuts"], out["suspensions"],
            out["suspended_cpu_s"], out["not_simulated"]) == (0, 0, 0, 0, 0, 0, [])
    # job 1 holds all 8 processors over [0, 100); then jobs 2 and 3 (4 each) start together
    assert out["jobs"] == 3 and out["makespan_s"] == 150
    assert out["avg_wait_s"] == pytest.approx((0 + 100 + 90) / 3, abs=1e-3)
    assert out["utilization"] == pytest.approx((100 * 8 + 50 * 4 + 20 * 4) / (8 * 150))
    assert out["avg_bsld"] == pytest.approx((1 + 150 / 50 + 110 / 20) / 3, abs=1e-3)
    none_lost = {"preempted": 0, "requeues": 0, "lost_cpu_s": 0, "suspensions": 0, "suspended_cpu_s": 0}
    assert out["accounts"] == {
        "g1": {"cpu_seconds": 800, "usage_fraction": 0.740741, "avg_wait_s": 0.0, "avg_bsld": 1.0, "never_started": 0,
               **none_lost},
        "g2": {"cpu_seconds": 280, "usage_fraction": 0.259259, "avg_wait_s": 95.0, "avg_bsld": 4.25,
               "never_started": 0, **none_lost}}


def test_a_site_policy_replays_with_the_accounts_limits(tmp_path, capsys):
    """Account g1 may hold 4 processors: of its two 4-processor jobs submitted together on an idle
    8-processor machine, the second waits for the first, while g2's job starts at once."""
    swf = write_swf(tmp_path / "t.swf", [(1, 0, 100, 4, 4, 100, 1, 1), (2, 0, 100, 4, 4, 100, 1, 1),
                                         (3, 0, 50, 4, 4, 50, 2, 2)])
    config = tmp_path / "jem.toml"
    config.write_text('[[accounts]]\nname = "g1"\ngrp_tres = "cpu=4"\n[[accounts]]\nname = "g2"\n')
    assert main(["sim", str(swf), "--json", "--config", str(config)]) == 0
    limited = json.loads(capsys.readouterr().out)
    assert main(["sim", str(swf), "--json"]) == 0
    free = json.loads(capsys.readouterr().out)
    assert limited["accounts"]["g1"]["avg_wait_s"] == 50.0 and limited["accounts"]["g2"]["avg_wait_s"] == 0.0
    assert free["accounts"]["g1"]["avg_wait_s"] == 0.0 and free["accounts"]["g2"]["avg_wait_s"] == 100.0


def test_text_output_and_missing_matplotlib(tmp_path, capsys):
    swf = write_swf(tmp_path / "t.swf", [(1, 0, 100, 8, 8, 100, 1, 1)])
    assert main(["sim", str(swf), "--policy", "conservative"]) == 0
    text = capsys.readouterr().out
    assert "policy       conservative" in text and "jobs         1 (skipped 0)" in text and "g1" in text
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert main(["sim", str(swf), "--plot", str(tmp_path / "p.png")]) == 1
        assert "needs matplotlib" in capsys.readouterr().err
    else:
        assert main(["sim", str(swf), "--plot", str(tmp_path / "p.png")]) == 0
        assert (tmp_path / "p.png").stat().st_size > 0


def test_binned_series_are_time_weighted_means_per_bin(tmp_path):
    """8 processors: job 1 (8) over [0, 100), jobs 2 and 3 (4 each) over [100, 150) and [100, 120),
    queued from 0 and 10. Bins of 60 s: [0, 60) busy 8, 2 queued (job 3 from 10: 1 + 50/60);
    [60, 120) busy (40*8 + 20*8) / 60, queued 2 for 40 s; [120, 150) busy 4, the last bin cut at 150."""
    swf = write_swf(tmp_path / "t.swf", [(1, 0, 100, 8, 8, 100, 1, 1), (2, 0, 50, 4, 4, 60, 2, 2),
                                         (3, 10, 20, 4, 4, 20, 3, 2)])
    result = simulate(read_swf(str(swf)), EASY)
    starts, busy, queued = result.binned(60)
    assert starts.tolist() == [0, 60, 120]
    assert busy.tolist() == pytest.approx([8, 8, 4])
    assert queued.tolist() == pytest.approx([1 + 50 / 60, 40 * 2 / 60, 0])


def test_plot_bins_and_title():
    from jem.cli.sim import bin_width_s

    assert bin_width_s(0) == 300 and bin_width_s(400 * 300) == 300 and bin_width_s(400 * 300 + 1) == 900
    assert bin_width_s(26 * 86400) == 2 * 3600 and bin_width_s(10 * 365 * 86400) == 28 * 86400


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="no matplotlib (the plot extra)")
def test_plot_of_the_shipped_trace_has_its_name_and_policy(tmp_path, monkeypatch):
    import matplotlib.figure

    titles = []
    save = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda fig, *a, **k: (titles.append(fig._suptitle.get_text()), save(fig, *a, **k))[1])
    assert main(["sim", str(SHIPPED), "--policy", "conservative", "--plot", str(tmp_path / "p.png")]) == 0
    assert (tmp_path / "p.png").stat().st_size > 10_000
    assert titles == ["CTC-SP2-1996-3.1-cln-first5000: conservative, 5000 jobs on 338 processors"]


# ---------------------------------------------------------------- fair-share

FAIRSHARE_TOML = """
[priority]
weight_age = 1000
weight_fairshare = 10000
max_age = "7-0"
[fairshare]
algorithm = "{algorithm}"
half_life = "1-0"
[[accounts]]
name = "g1"
shares = 70
[[accounts]]
name = "g2"
shares = 30
"""


@pytest.mark.parametrize("algorithm", ["fair_tree", "classic"])
def test_two_saturating_accounts_get_their_shares(tmp_path, algorithm):
    """Accounts g1 (70 shares) and g2 (30) each queue far more work than the machine can
    do; while both still wait, Fair Tree gives them the machine within 5 points of 70/30.
    Classic favours g1 more: its effective usage mixes in the parent's (root's, 1), so
    F(g1) = F(g2) where (U1 + 0.7 (1 - U1)) / 0.7 = (U2 + 0.3 (1 - U2)) / 0.3, at U1 = 0.845."""
    records = []
    for i in range(1500):
        for group in (1, 2):
            job = len(records) + 1
            records.append((job, i * 20, 1800, 10, 10, 1800, group, group))
    trace = read_swf(str(write_swf(tmp_path / "fs.swf", records, "; MaxProcs: 100\n")))
    config = parse_config(__import__("tomllib").loads(FAIRSHARE_TOML.format(algorithm=algorithm)))
    result = simulate(trace, Policy.from_config(config))
    g1 = trace.group == 1
    window = min(result.start_s[g1].max(), result.start_s[~g1].max())     # both saturate until then
    used = np.clip(np.minimum(result.end_s, window) - result.start_s, 0, None) * trace.size
    fraction = used[g1].sum() / used.sum()
    assert window > 3 * 86400
    expected = 0.70 if algorithm == "fair_tree" else 0.845
    assert abs(fraction - expected) <= 0.05, fraction
