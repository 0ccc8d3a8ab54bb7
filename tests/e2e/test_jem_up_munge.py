"""`jem up --auth munge`: a local cluster whose users authenticate with MUNGE, through its own munged."""

import json
import os
import time

import pytest

from jem.security.munged import find_munged
from test_jem_cli import command_server_dir, jem, processes_mentioning  # noqa: F401  (the fixture: a private
#   runtime directory for the command server its `jem` calls start, stopped at the end)


@pytest.mark.skipif(find_munged() is None, reason="munged is not installed (.ci/run installs it)")
def test_jem_up_with_munge_runs_a_job_with_munge_credentials_and_jem_down_stops_munged(tmp_path):
    state_dir = str(tmp_path / "state")
    munge_socket = ""
    try:
        jem("up", "--auth", "munge", "--nodes", "1", "--cpus-per-node", "1", "--mem-per-node", "512",
            "--state-dir", state_dir)
        env = dict(os.environ)
        with open(os.path.join(state_dir, "env")) as f:
            for line in f:
                key, value = line.removeprefix("export ").strip().split("=", 1)
                env[key] = value
        with open(env["JEM_CONFIG"]) as f:
            client_toml = f.read()
        assert 'auth = "munge"' in client_toml
        munge_socket = next(line.split('"')[1] for line in client_toml.splitlines() if line.startswith("munge_socket"))
        assert processes_mentioning(f"--socket={munge_socket}")
        # No credential service within reach: the job goes in on a MUNGE credential alone.
        env["JEM_AUTHD_SOCKET"] = str(tmp_path / "no-authd.sock")
        out_file = tmp_path / "out.txt"
        job_id = jem("submit", "--parsable", "-o", str(out_file), "--wrap", "echo munged-job", env=env,
                     cwd=str(tmp_path)).stdout.strip()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            shown = json.loads(jem("show", job_id, "--json", env=env).stdout)
            if shown["state"] == "COMPLETED":
                break
            time.sleep(0.2)
        assert shown["state"] == "COMPLETED"
        assert out_file.read_text().strip() == "munged-job"
    finally:
        jem("down", "--state-dir", state_dir, check=False)
    assert munge_socket and not processes_mentioning(f"--socket={munge_socket}")
    assert not os.path.exists(os.path.dirname(munge_socket))
