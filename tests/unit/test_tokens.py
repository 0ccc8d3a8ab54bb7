"""Signed claims, key sets and the credential service: what a verifier accepts and what it refuses."""

import base64
import hashlib
import hmac as hmac_lib
import json
import pwd
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

from jem.model.errors import Unauthenticated
from jem.security import tokens
from jem.security import authd
from jem.security.authd import AuthdConnection, CredentialService, UnsafeRunDir, fetch_token, fetch_tokens
from jem.security.keys import PublicKeySet, export_public_key, generate_signing_key


@pytest.fixture
def keydir(tmp_path):
    return str(tmp_path / "pub")


def test_a_token_verifies_with_its_key_and_audience(tmp_path, keydir):
    key = generate_signing_key(str(tmp_path / "k"), public_dir=keydir)
    token = tokens.sign_claims(key, {"uid": 5, "gid": 6}, audience=tokens.AUD_CONTROLLER, lifetime_s=60)
    claims = tokens.verify_claims(token, PublicKeySet(keydir), audience=tokens.AUD_CONTROLLER)
    assert (claims["uid"], claims["gid"]) == (5, 6)
    with pytest.raises(Unauthenticated):
        tokens.verify_claims(token, PublicKeySet(keydir), audience=tokens.AUD_LAUNCH)


def test_keys_rotate_without_a_restart(tmp_path, keydir):
    old = generate_signing_key(str(tmp_path / "old"), public_dir=keydir)
    keys = PublicKeySet(keydir)
    new = generate_signing_key(str(tmp_path / "new"))
    new_token = tokens.sign_claims(new, {}, audience=tokens.AUD_API, lifetime_s=60)
    with pytest.raises(Unauthenticated, match="unknown key"):
        tokens.verify_claims(new_token, keys, audience=tokens.AUD_API)
    export_public_key(new, keydir)                      # the new public key is installed: trusted at once
    tokens.verify_claims(new_token, keys, audience=tokens.AUD_API)
    old_token = tokens.sign_claims(old, {}, audience=tokens.AUD_API, lifetime_s=60)
    os.unlink(os.path.join(keydir, f"{old.kid}.pub"))   # the old one removed: distrusted at once
    with pytest.raises(Unauthenticated, match="unknown key"):
        tokens.verify_claims(old_token, keys, audience=tokens.AUD_API)


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_unsigned_and_hmac_tokens_are_refused(tmp_path, keydir):
    key = generate_signing_key(str(tmp_path / "k"), public_dir=keydir)
    body = {"uid": 0, "gid": 0, "aud": tokens.AUD_CONTROLLER, "iat": 0, "exp": 2**40, "jti": "x"}
    unsigned = f"{_b64({'alg': 'none', 'kid': key.kid})}.{_b64(body)}."
    with open(os.path.join(keydir, f"{key.kid}.pub"), "rb") as f:
        public_pem = f.read()
    # The classic confusion: HMAC keyed with the (public) verification key.
    header = _b64({"alg": "HS256", "kid": key.kid, "typ": "JWT"})
    signing_input = f"{header}.{_b64(body)}"
    mac = hmac_lib.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    hmac = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    for token in (unsigned, hmac):
        with pytest.raises(Unauthenticated):
            tokens.verify_claims(token, PublicKeySet(keydir), audience=tokens.AUD_CONTROLLER)


def test_the_replay_cache_forgets_expired_tokens():
    cache = tokens.ReplayCache()
    cache.check_and_add("a", exp=100.0, now=50.0)
    with pytest.raises(Unauthenticated, match="replayed"):
        cache.check_and_add("a", exp=100.0, now=60.0)
    cache.check_and_add("b", exp=300.0, now=200.0)   # purges "a", long expired
    assert len(cache) == 1


def test_the_launch_replay_record_survives_a_restart(tmp_path):
    path = str(tmp_path / "launches.log")
    log = tokens.PersistentReplayLog(path)
    log.check_and_add(["7.0"])
    log.close()
    again = tokens.PersistentReplayLog(path)
    with pytest.raises(Unauthenticated):
        again.check_and_add(["7.0"])
    again.check_and_add(["7.1"])
    assert os.stat(path).st_mode & 0o077 == 0


def test_a_batch_with_one_used_launch_records_none_of_it(tmp_path):
    log = tokens.PersistentReplayLog(str(tmp_path / "launches.log"))
    log.check_and_add(["7.0"])
    for batch in (["8.0", "7.0"], ["9.0", "9.0"]):
        with pytest.raises(Unauthenticated):
            log.check_and_add(batch)
    log.check_and_add(["8.0", "9.0"])
    assert "8.0" in log and "9.0" in log


def test_the_credential_service_signs_the_kernels_answer(tmp_path, keydir):
    run_dir = tmp_path / "run"
    key = generate_signing_key(str(tmp_path / "authd.key"), public_dir=keydir)
    service = CredentialService(key, str(run_dir / "authd.sock")).start()
    try:
        claims = tokens.verify_claims(fetch_token(str(run_dir / "authd.sock")), PublicKeySet(keydir),
                                      audience=tokens.AUD_CONTROLLER)
        assert (claims["uid"], claims["gid"]) == (os.getuid(), os.getgid())
        assert oct(os.stat(run_dir).st_mode & 0o777) == "0o755"
    finally:
        service.stop()


def test_one_round_trip_brings_a_call_token_and_a_signature(tmp_path, keydir):
    run_dir = tmp_path / "run"
    key = generate_signing_key(str(tmp_path / "authd.key"), public_dir=keydir)
    service = CredentialService(key, str(run_dir / "authd.sock")).start()
    digest = hashlib.sha256(b"job").hexdigest()
    try:
        token, signature = fetch_tokens(str(run_dir / "authd.sock"), [(tokens.AUD_CONTROLLER, None),
                                                                      (tokens.AUD_JOB, digest)])
        keys = PublicKeySet(keydir)
        assert tokens.verify_claims(token, keys, audience=tokens.AUD_CONTROLLER)["uid"] == os.getuid()
        assert tokens.verify_claims(signature, keys, audience=tokens.AUD_JOB)["dig"] == digest
        with pytest.raises(Unauthenticated, match="dig must be"):   # one bad request fails the whole fetch
            fetch_tokens(str(run_dir / "authd.sock"), [(tokens.AUD_CONTROLLER, None), (tokens.AUD_JOB, "x")])
    finally:
        service.stop()


def test_a_journalled_replay_cache_remembers_live_ids_across_a_restart(tmp_path):
    journal = str(tmp_path / "replays.log")
    now = 1_000_000.0
    cache = tokens.ReplayCache(journal, now=now)
    cache.check_and_add("live", now + 60, now=now)
    cache.check_and_add("dying", now + 1, now=now)
    cache.close()
    assert oct(os.stat(journal).st_mode & 0o777) == "0o600"
    with open(journal, "ab") as f:
        f.write(b"not json\n[1, 2]\n")               # a torn or foreign line is skipped, not fatal
    later = now + 30                                     # "dying" expired (beyond the leeway), "live" not
    restarted = tokens.ReplayCache(journal, now=later)
    with pytest.raises(Unauthenticated, match="replayed"):
        restarted.check_and_add("live", now + 60, now=later)
    restarted.check_and_add("dying", later + 60, now=later)   # an expired id is no longer held
    restarted.close()
    with open(journal) as f:
        assert sorted(json.loads(line)[1] for line in f) == ["dying", "live"]   # rewritten: live ids only


def test_a_journal_that_cannot_be_written_leaves_the_cache_in_memory(tmp_path):
    cache = tokens.ReplayCache(str(tmp_path / "missing-dir" / "replays.log"))
    cache.check_and_add("a", time.time() + 60)
    with pytest.raises(Unauthenticated, match="replayed"):
        cache.check_and_add("a", time.time() + 60)


def test_a_kept_connection_serves_many_calls_and_survives_the_services_idle_drop(tmp_path, keydir, monkeypatch):
    monkeypatch.setattr(authd._Handler, "timeout", 0.2)   # the service drops a connection idle this long
    run_dir = tmp_path / "run"
    key = generate_signing_key(str(tmp_path / "authd.key"), public_dir=keydir)
    service = CredentialService(key, str(run_dir / "authd.sock")).start()
    connection = AuthdConnection(str(run_dir / "authd.sock"))
    keys = PublicKeySet(keydir)
    try:
        first = [connection.fetch([(tokens.AUD_CONTROLLER, None)])[0] for _ in range(5)]
        assert connection._sock is not None
        kept = connection._sock.fileno()
        assert len({tokens.verify_claims(t, keys, audience=tokens.AUD_CONTROLLER)["jti"] for t in first}) == 5
        assert connection._sock.fileno() == kept   # one connection for all five
        connection._sock.settimeout(5)
        assert connection._sock.recv(1) == b""      # the service has dropped it (idle)
        connection._sock.settimeout(authd.CLIENT_TIMEOUT_S)
        again = connection.fetch([(tokens.AUD_CONTROLLER, None)])[0]
        assert tokens.verify_claims(again, keys, audience=tokens.AUD_CONTROLLER)["uid"] == os.getuid()
    finally:
        connection.close()
        service.stop()


def test_a_kept_connection_never_speaks_for_a_forked_child_that_changed_user(keydir, tmp_path):
    # A root program that keeps a connection, forks and drops to another user must not hand that
    # user root's tokens: the service read root from the kept socket, so the child connects anew.
    run_dir = tempfile.mkdtemp(prefix="jem-authd-fork-")   # reachable by the child's new user
    os.chmod(run_dir, 0o755)
    key = generate_signing_key(str(tmp_path / "authd.key"), public_dir=keydir)
    service = CredentialService(key, os.path.join(run_dir, "authd.sock")).start()
    connection = AuthdConnection(os.path.join(run_dir, "authd.sock"))
    nobody = pwd.getpwnam("nobody")
    try:
        root_token = connection.fetch([(tokens.AUD_CONTROLLER, None)])[0]
        assert tokens.verify_claims(root_token, PublicKeySet(keydir), audience=tokens.AUD_CONTROLLER)["uid"] == 0
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read_fd)
                os.setgroups([])
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
                os.write(write_fd, connection.fetch([(tokens.AUD_CONTROLLER, None)])[0].encode())
            finally:
                os._exit(0)
        os.close(write_fd)
        with os.fdopen(read_fd, "rb") as f:
            child_token = f.read().decode()
        os.waitpid(pid, 0)
        claims = tokens.verify_claims(child_token, PublicKeySet(keydir), audience=tokens.AUD_CONTROLLER)
        assert (claims["uid"], claims["gid"]) == (nobody.pw_uid, nobody.pw_gid)
    finally:
        connection.close()
        service.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


def test_a_run_dir_others_can_write_is_refused(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    os.chmod(run_dir, 0o777)
    key = generate_signing_key(str(tmp_path / "authd.key"))
    with pytest.raises(UnsafeRunDir):
        CredentialService(key, str(run_dir / "authd.sock"))
    link = tmp_path / "link"
    os.chmod(run_dir, 0o755)
    link.symlink_to(run_dir)
    with pytest.raises(UnsafeRunDir):
        CredentialService(key, str(link / "authd.sock"))


def test_another_users_token_carries_their_uid(tmp_path, keydir):
    name = f"jemt{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "-M", name], check=True)
    try:
        shared = tempfile.mkdtemp(prefix="jem-test-run-")   # pytest's tmp_path is private to root
        os.chmod(shared, 0o755)
        run_dir = pathlib.Path(shared) / "run"
        key = generate_signing_key(str(tmp_path / "authd.key"), public_dir=keydir)
        service = CredentialService(key, str(run_dir / "authd.sock")).start()
        try:
            code = ("import json,socket;s=socket.socket(socket.AF_UNIX);s.connect(%r);"
                    "s.sendall(b'{\"aud\": \"jem-controller\"}\\n');print(s.makefile().readline())"
                    % str(run_dir / "authd.sock"))
            out = subprocess.run(["/usr/bin/python3", "-c", code], user=name, capture_output=True, text=True,
                                 check=True, cwd="/")
            claims = tokens.verify_claims(json.loads(out.stdout)["token"], PublicKeySet(keydir),
                                          audience=tokens.AUD_CONTROLLER)
            assert claims["uid"] == pwd.getpwnam(name).pw_uid != 0
        finally:
            service.stop()
            shutil.rmtree(shared, ignore_errors=True)
    finally:
        subprocess.run(["userdel", name], check=False)


def test_a_missing_security_dir_is_made_for_everyone_to_read_while_its_keys_stay_private(tmp_path):
    from jem.controller.credentials import ControllerKeys

    made, kept = tmp_path / "etc-jem", tmp_path / "site-jem"
    kept.mkdir(mode=0o700)
    old_umask = os.umask(0o077)   # as the controller and `jem authd` run
    try:
        for path in (made, kept):
            ControllerKeys(str(path), with_authd_key=True)
    finally:
        os.umask(old_umask)
    assert made.stat().st_mode & 0o777 == 0o755   # client.toml and ca.crt in it stay reachable
    assert kept.stat().st_mode & 0o777 == 0o700   # a site's own choice is left alone
    for path in (made, kept):
        for key in ("controller-signing.key", "authd.key"):
            assert (path / key).stat().st_mode & 0o777 == 0o600
