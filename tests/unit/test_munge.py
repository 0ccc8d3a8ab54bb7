"""MUNGE credentials against a real private munged: who made them, and what munged refuses."""

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from jem.model.errors import Unauthenticated
from jem.security import munge
from jem.security.munge import MungeCode, MungeCredential, MungeError
from jem.security.munged import MungedStartError, find_munged, start_munged

ROOT = pathlib.Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"

MUNGED_MISSING = "munged is not installed (apt-get install munge libmunge2; .ci/run does)"
needs_munged = pytest.mark.skipif(find_munged() is None, reason=MUNGED_MISSING)


@pytest.fixture(scope="module")
def daemon():
    if find_munged() is None:
        pytest.skip(MUNGED_MISSING)
    shared = tempfile.mkdtemp(prefix="jem-munge-")   # pytest's tmp_path is private to root; munged wants o+x
    os.chmod(shared, 0o755)
    process = start_munged(os.path.join(shared, "munged"))
    try:
        yield process
    finally:
        process.stop()
        shutil.rmtree(shared, ignore_errors=True)


def test_a_credential_round_trips_with_our_uid_gid_and_payload(daemon):
    payload = b"job 42\0binary\xff"
    cred = munge.encode(payload, socket_path=daemon.socket_path)
    assert cred.startswith("MUNGE:") and cred.endswith(":")
    assert munge.decode(cred, socket_path=daemon.socket_path) == MungeCredential(
        uid=os.getuid(), gid=os.getgid(), payload=payload)
    empty = munge.decode(munge.encode(socket_path=daemon.socket_path), socket_path=daemon.socket_path)
    assert empty.payload == b""


def test_a_credential_decodes_only_once(daemon):
    cred = munge.encode(b"once", socket_path=daemon.socket_path)
    munge.decode(cred, socket_path=daemon.socket_path)
    with pytest.raises(MungeError) as err:
        munge.decode(cred, socket_path=daemon.socket_path)
    assert err.value.munge_code is MungeCode.CRED_REPLAYED
    assert isinstance(err.value, Unauthenticated) and err.value.reason == "Unauthenticated"
    assert "Replayed credential" in str(err.value)


def test_a_credential_past_its_ttl_is_expired(daemon):
    cred = munge.encode(socket_path=daemon.socket_path, ttl_s=1)
    # munged stamps whole seconds and refuses once now > encode_time + ttl: at most 2 s from here.
    time.sleep(int(time.time()) + 2 + 0.05 - time.time())
    with pytest.raises(MungeError) as err:
        munge.decode(cred, socket_path=daemon.socket_path)
    assert err.value.munge_code is MungeCode.CRED_EXPIRED
    assert "Expired credential" in str(err.value)


@pytest.mark.parametrize("garbage", ["garbage", "MUNGE:AwQFAAAgarbagegarbagegarbage:", "MUNGE::", "", "MUNGE:\0:",
                                     "MUNGE:é:"])
def test_garbage_is_refused(daemon, garbage):
    with pytest.raises(MungeError) as err:
        munge.decode(garbage, socket_path=daemon.socket_path)
    assert err.value.munge_code in (MungeCode.BAD_CRED, MungeCode.BAD_VERSION, MungeCode.BAD_ARG,
                                    MungeCode.CRED_INVALID, MungeCode.BAD_CIPHER, MungeCode.BAD_MAC,
                                    MungeCode.BAD_LENGTH)


def test_a_tampered_credential_is_refused(daemon):
    cred = munge.encode(b"pay me", socket_path=daemon.socket_path)
    i = len(cred) // 2
    tampered = cred[:i] + ("A" if cred[i] != "A" else "B") + cred[i + 1:]
    with pytest.raises(MungeError) as err:
        munge.decode(tampered, socket_path=daemon.socket_path)
    assert err.value.munge_code not in (MungeCode.SUCCESS, MungeCode.SOCKET)


def test_a_credential_from_another_key_is_invalid(daemon):
    shared = tempfile.mkdtemp(prefix="jem-munge-")
    os.chmod(shared, 0o755)
    try:
        with start_munged(os.path.join(shared, "other")) as other:
            cred = munge.encode(socket_path=other.socket_path)
        with pytest.raises(MungeError) as err:
            munge.decode(cred, socket_path=daemon.socket_path)
        assert err.value.munge_code is MungeCode.CRED_INVALID
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_decode_reports_the_uid_restriction(daemon):
    mine = munge.encode(b"r", socket_path=daemon.socket_path, uid_restriction=os.getuid())
    assert munge.decode(mine, socket_path=daemon.socket_path).uid_restriction == os.getuid()
    anyone = munge.encode(b"r", socket_path=daemon.socket_path)
    assert munge.decode(anyone, socket_path=daemon.socket_path).uid_restriction is None


def test_a_uid_restriction_refuses_every_other_uid_root_included(daemon):
    cred = munge.encode(b"for 12345", socket_path=daemon.socket_path, uid_restriction=12345)
    with pytest.raises(MungeError) as err:
        munge.decode(cred, socket_path=daemon.socket_path)
    assert err.value.munge_code is MungeCode.CRED_UNAUTHORIZED
    assert f"UID={os.getuid()}" in str(err.value)


def _decode_as(user: str, cred: str, socket_path: str) -> subprocess.CompletedProcess:
    code = ("import sys\nfrom jem.security import munge\n"
            "try:\n c = munge.decode(sys.argv[1], socket_path=sys.argv[2])\n"
            "except munge.MungeError as e:\n print('ERR', int(e.munge_code)); sys.exit(0)\n"
            "print('OK', c.uid, c.gid, c.payload.decode())\n")
    return subprocess.run([SYSTEM_PYTHON, "-c", code, cred, socket_path], user=user, group=user,
                          capture_output=True, text=True, cwd="/", timeout=30,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})


@pytest.mark.skipif(os.geteuid() != 0, reason="decoding as another user needs root (useradd)")
@pytest.mark.skipif(not os.access(SYSTEM_PYTHON, os.X_OK), reason=f"{SYSTEM_PYTHON} is missing")
def test_the_restricted_uid_decodes_and_sees_the_encoders_uid(daemon):
    import pwd

    name = f"jemm{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "-M", "-s", "/bin/sh", name], check=True)
    try:
        uid = pwd.getpwnam(name).pw_uid
        for_them = munge.encode(b"hello", socket_path=daemon.socket_path, uid_restriction=uid)
        out = _decode_as(name, for_them, daemon.socket_path)
        assert out.stdout.split() == ["OK", str(os.getuid()), str(os.getgid()), "hello"], out.stderr
        # ... and nobody else: not root, and not them for a credential restricted to someone else.
        root_try = munge.encode(b"x", socket_path=daemon.socket_path, uid_restriction=uid)
        with pytest.raises(MungeError) as err:
            munge.decode(root_try, socket_path=daemon.socket_path)
        assert err.value.munge_code is MungeCode.CRED_UNAUTHORIZED
        for_12345 = munge.encode(b"x", socket_path=daemon.socket_path, uid_restriction=12345 if uid != 12345 else 12346)
        out = _decode_as(name, for_12345, daemon.socket_path)
        assert out.stdout.split() == ["ERR", str(int(MungeCode.CRED_UNAUTHORIZED))], out.stderr
        # Their own credential carries their uid.
        code = ("import sys\nfrom jem.security import munge\n"
                "print(munge.encode(b'mine', socket_path=sys.argv[1]))\n")
        theirs = subprocess.run([SYSTEM_PYTHON, "-c", code, daemon.socket_path], user=name, group=name,
                                capture_output=True, text=True, cwd="/", timeout=30, check=True,
                                env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}).stdout.strip()
        decoded = munge.decode(theirs, socket_path=daemon.socket_path)
        assert (decoded.uid, decoded.gid, decoded.payload) == (uid, pwd.getpwnam(name).pw_gid, b"mine")
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


@needs_munged
def test_munged_down_is_a_clear_socket_error():
    shared = tempfile.mkdtemp(prefix="jem-munge-")
    os.chmod(shared, 0o755)
    try:
        process = start_munged(os.path.join(shared, "down"))
        socket_path = process.socket_path
        process.stop()
        assert not process.running() and not os.path.exists(process.directory)
        for call in (lambda: munge.encode(b"x", socket_path=socket_path),
                     lambda: munge.decode("MUNGE:abc:", socket_path=socket_path)):
            with pytest.raises(MungeError) as err:
                call()
            assert err.value.munge_code is MungeCode.SOCKET
            assert socket_path in str(err.value) and "Did you start munged?" in str(err.value)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


@needs_munged
def test_start_munged_refuses_a_directory_others_cannot_search():
    private = tempfile.mkdtemp(prefix="jem-munge-")   # 0700
    try:
        with pytest.raises(MungedStartError, match="execute permissions"):
            start_munged(private)
        assert os.listdir(private) == []   # key and log removed
    finally:
        shutil.rmtree(private, ignore_errors=True)


def test_bad_arguments_are_refused_before_munged(daemon):
    with pytest.raises(ValueError):
        munge.encode(socket_path=daemon.socket_path, ttl_s=0)
    with pytest.raises(ValueError):
        munge.encode(socket_path=daemon.socket_path, uid_restriction=-1)


def test_without_libmunge_the_module_imports_and_calls_say_so(tmp_path):
    code = ("import ctypes, ctypes.util\n"
            "real = ctypes.CDLL\n"
            "def fake(name, *a, **k):\n"
            "    if name and 'munge' in name: raise OSError('no ' + name)\n"
            "    return real(name, *a, **k)\n"
            "ctypes.CDLL = fake\n"
            "ctypes.util.find_library = lambda name: None\n"
            "from jem.security import munge\n"
            "try:\n    munge.encode(b'x')\nexcept munge.MungeError as e:\n"
            "    print(e.detail, e.munge_code, e.reason)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=str(ROOT),
                         timeout=60)
    assert out.stdout.strip() == "libmunge is not installed None Unauthenticated"
