"""The credential service under a burst of callers: those it has not accepted yet wait for it (in its
listen backlog, then in connect()) instead of being refused, and every one gets its token."""

import concurrent.futures
import os
import subprocess
import time

from jem.security import tokens
from jem.security.authd import CredentialService, fetch_token
from jem.security.keys import PublicKeySet, generate_signing_key

N_CALLERS = 64   # past socketserver's default backlog of 5, which refused the sixth waiting caller with EAGAIN


def _waiting_connections(socket_path: str) -> int:
    """Connections queued on the listening socket at `socket_path`, not accepted yet (ss's Recv-Q)."""
    out = subprocess.run(["ss", "-xlH", "src", socket_path], capture_output=True, text=True, check=True).stdout
    return int(out.split()[2]) if out.strip() else 0


def test_callers_a_busy_service_has_not_accepted_wait_and_all_get_tokens(tmp_path):
    keydir = str(tmp_path / "pub")
    key = generate_signing_key(str(tmp_path / "authd.key"), public_dir=keydir)
    socket_path = str(tmp_path / "run" / "authd.sock")
    service = CredentialService(key, socket_path)   # listening, accepting nothing until started
    try:
        with concurrent.futures.ThreadPoolExecutor(N_CALLERS) as pool:
            fetches = [pool.submit(fetch_token, socket_path) for _ in range(N_CALLERS)]
            deadline = time.monotonic() + 30
            while _waiting_connections(socket_path) < N_CALLERS and not any(f.done() for f in fetches):
                assert time.monotonic() < deadline, "the callers never all connected"
                time.sleep(0.01)
            service.start()
            issued = [f.result(timeout=60) for f in fetches]
    finally:
        service.stop()
    keys = PublicKeySet(keydir)
    assert [tokens.verify_claims(t, keys, audience=tokens.AUD_CONTROLLER)["uid"] for t in issued] == [
        os.getuid()] * N_CALLERS
