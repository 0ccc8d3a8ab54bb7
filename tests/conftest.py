"""Settings every test process needs before anything imports gRPC, and a runtime directory of its own for
the command servers its commands start."""

import os
import subprocess
import sys

import pytest

# The tests hold gRPC channels (and their threads) while they fork helpers with
# subprocess (a command run as another Unix user, say). gRPC's fork handlers then
# crash the child between fork and exec now and again (SIGSEGV or SIGABRT), as
# they would in the agent; `jem` turns them off for the same reason (cli/main.py).
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")


@pytest.fixture(scope="session", autouse=True)
def command_server_runtime_dir(tmp_path_factory):
    """The runtime directory of the command servers that tests start without naming one of their own
    (`python -m jem.cli.main audit ...` hands its call to this user's server): a private one for the
    session, not the user's own /tmp/jem-<uid>, and its servers stopped when the session ends."""
    if os.environ.get("JEM_RUNTIME_DIR"):   # (the caller's choice)
        yield os.environ["JEM_RUNTIME_DIR"]
        return
    run_dir = str(tmp_path_factory.mktemp("cmd-run"))   # (0700, as the launcher wants it)
    os.environ["JEM_RUNTIME_DIR"] = run_dir
    try:
        yield run_dir
    finally:
        subprocess.run([sys.executable, "-m", "jem.cli.main", "slurm-path", "--stop-server"], timeout=60,
                       capture_output=True)
        del os.environ["JEM_RUNTIME_DIR"]
