"""A file `jem` cannot use ends the command with one line, `jem CMD: error: ...`, and exit status 1,
never a traceback: traces and configs that are missing, not gzip, cut short or not text, outputs
in missing directories, scripts that are not text; and `jem sim` checks its outputs (and
matplotlib) before it replays, not after. No cluster is needed: each fails before it would call one."""

import gzip
import importlib.util
import subprocess
import sys

import pytest

from jem.cli.main import main

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
RECORD = "1 0 -1 100 8 -1 -1 8 100 -1 1 1 1 -1 -1 -1 -1 -1\n"


@pytest.fixture
def trace(tmp_path):
    path = tmp_path / "t.swf"
    path.write_text("; MaxProcs: 8\n" + RECORD)
    return path


def _fails(capsys, argv: list[str], *expected: str) -> str:
    """Run `jem argv`: exit 1, one line on stderr naming each of `expected`, nothing on stdout."""
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1, (out, err)
    assert err.startswith(f"jem {argv[0]}: error: "), err
    for text in expected:
        assert text in err, (text, err)
    return err


def test_sim_names_a_trace_it_cannot_read(capsys, tmp_path):
    _fails(capsys, ["sim", str(tmp_path / "none.swf")], "none.swf: No such file or directory")
    _fails(capsys, ["sim", str(tmp_path)], f"{tmp_path}: Is a directory")
    whole = gzip.compress(b"; MaxProcs: 8\n" + RECORD.encode() * 50)
    (tmp_path / "cut.swf.gz").write_bytes(whole[:40])
    _fails(capsys, ["sim", str(tmp_path / "cut.swf.gz")], "cut.swf.gz: Compressed file ended")
    (tmp_path / "plain.swf.gz").write_text("; MaxProcs: 8\n" + RECORD)
    _fails(capsys, ["sim", str(tmp_path / "plain.swf.gz")], "plain.swf.gz: Not a gzipped file")


def test_sim_names_a_config_that_is_not_text(capsys, trace, tmp_path):
    config = tmp_path / "jem.toml"
    config.write_bytes(b'name = "\xff"\n')
    _fails(capsys, ["sim", str(trace), "--config", str(config)], "jem.toml: not UTF-8 text (byte 0xff")


@pytest.mark.parametrize("option", ["--csv", "--plot"])
def test_sim_refuses_an_output_it_cannot_write_before_it_replays(capsys, trace, tmp_path, option):
    """Nothing is printed: the replay never ran (a long one would be wasted)."""
    name = "out.png" if option == "--plot" else "out.csv"
    if option == "--plot" and not HAS_MATPLOTLIB:
        pytest.skip("no matplotlib: --plot stops on that first (test_plot_without_matplotlib...)")
    _fails(capsys, ["sim", str(trace), option, str(tmp_path / "none" / name)],
           f"{option} {tmp_path}/none/{name}: No such file or directory")
    _fails(capsys, ["sim", str(trace), option, str(tmp_path)], f"{option} {tmp_path}: Is a directory")


def test_sim_leaves_no_file_from_its_check_and_an_existing_one_as_it_was(capsys, trace, tmp_path):
    kept = tmp_path / "kept.csv"
    kept.write_text("old\n")
    _fails(capsys, ["sim", str(tmp_path / "none.swf"), "--csv", str(kept)], "none.swf")
    assert kept.read_text() == "old\n"
    _fails(capsys, ["sim", str(tmp_path / "none.swf"), "--csv", str(tmp_path / "new.csv")], "none.swf")
    assert not (tmp_path / "new.csv").exists()
    assert main(["sim", str(trace), "--json", "--csv", str(kept)]) == 0
    assert kept.read_text().startswith("job_id,submit,start,end,procs\n1,0,0,100,8")


def test_plot_without_matplotlib_says_how_to_install_it_before_it_replays(capsys, trace, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # (as if not installed: its import fails)
    err = _fails(capsys, ["sim", str(trace), "--plot", str(tmp_path / "p.png")], "needs matplotlib",
                 f"{sys.executable} -m pip install 'matplotlib", "pip install '.[plot]'")
    assert "jem[plot]" not in err and not (tmp_path / "p.png").exists()


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="no matplotlib")
def test_plot_refuses_a_format_matplotlib_cannot_write(capsys, trace, tmp_path):
    _fails(capsys, ["sim", str(trace), "--plot", str(tmp_path / "p.xyz")], "p.xyz: give the file a suffix", "png")


def test_submit_names_a_script_that_is_not_text(capsys, tmp_path):
    script = tmp_path / "binary.sh"
    script.write_bytes(b"#!/bin/sh\n\xff\xfe\n")
    _fails(capsys, ["submit", str(script)], "binary.sh is not a text file", "byte 0xff at offset 10")


def test_a_file_in_a_path_through_a_regular_file_is_named(capsys, tmp_path):
    (tmp_path / "file").write_text("")
    _fails(capsys, ["slurm-path", "--install", str(tmp_path / "file" / "bin")],
           f"{tmp_path}/file/bin: Not a directory")
    _fails(capsys, ["slurm-path", "--state-dir", str(tmp_path / "file" / "state")], "Not a directory")
    _fails(capsys, ["up", "--state-dir", str(tmp_path / "file" / "state")], "Not a directory")


def test_up_refuses_a_site_config_that_sets_its_own_addresses(capsys, tmp_path):
    site = tmp_path / "site.toml"
    site.write_text('[cluster]\nname = "site"\nlisten = "0.0.0.0:7000"\n')
    _fails(capsys, ["up", "--config", str(site), "--state-dir", str(tmp_path / "state")], "cluster.listen",
           "jem up sets these itself")
    _fails(capsys, ["up", "--config", str(tmp_path / "none.toml"), "--state-dir", str(tmp_path / "state")],
           "none.toml: No such file or directory")
    assert not (tmp_path / "state").exists()   # refused before anything was made


def test_the_entry_point_prints_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "jem.cli.main", "sim", str(tmp_path / "none.swf.gz")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr == f"jem sim: error: {tmp_path}/none.swf.gz: No such file or directory\n"
