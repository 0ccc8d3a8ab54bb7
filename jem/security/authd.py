"""The credential service (`jem authd`): the kernel's word on who is calling, signed.

One runs on every host where users run commands (login nodes, the
controller's host; the controller serves one itself). It listens on a Unix
socket in a run directory that only its owner (root) may write, asks the
kernel who connected (SO_PEERCRED: uid and gid of the connecting process,
which no user can forge), and answers with a short-lived token signed by
its private key (`tokens.sign_claims`). The private key never leaves the
service; controllers and agents hold its public half.

Wire: the client sends JSON lines {"aud": AUDIENCE, "dig": HEX?}; the
service answers each, in order, with one JSON line {"token": JWS} or
{"error": TEXT}, until the client closes or has been silent for
`CLIENT_TIMEOUT_S` (at most `MAX_REQUESTS_PER_CONNECTION` answers). A client
that needs a call token and a signature together (a submit) asks for both in
one round trip (at most `MAX_REQUESTS` lines). A long-lived client keeps its
connection (`AuthdConnection`): one connection and one service thread for
all its calls, instead of one each.
Audiences: `jem-controller` (authenticate one RPC, `token_lifetime_s`),
`jem-job`, `jem-cron` and `jem-step` (sign a digest; `job_signature_lifetime_s`,
`cron_signature_lifetime_s` and `step_signature_lifetime_s`). A `jem-cron`
signature is a scrontab entry's: its job runs on every time of its schedule
for as long as the crontab stays installed, and no user is there to sign
each run, so it lives longer than a one-off job's (docs/security.md).
"""

import json
import logging
import os
import socket
import socketserver
import stat
import struct
import threading
from dataclasses import dataclass
from typing import Sequence

from jem.model import defaults
from jem.model.errors import Unauthenticated
from jem.security import tokens
from jem.security.keys import SigningKey

log = logging.getLogger(__name__)

SOCKET_NAME = "authd.sock"
MAX_REQUEST_BYTES = 4096
MAX_REQUESTS = 4   # per round trip
MAX_REQUESTS_PER_CONNECTION = 100_000
CLIENT_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 30   # the longest a client waits for the service to accept it (a burst of callers)


@dataclass(frozen=True)
class AuthdPolicy:
    """How long each kind of token lives, in seconds."""

    token_lifetime_s: float = defaults.TOKEN_LIFETIME_S
    job_signature_lifetime_s: float = defaults.JOB_SIGNATURE_LIFETIME_S   # a job may pend this long and still start
    step_signature_lifetime_s: float = 300.0
    cron_signature_lifetime_s: float = defaults.CRON_SIGNATURE_LIFETIME_S   # a scrontab entry runs this long

    def digest_lifetime_s(self, audience: str) -> float | None:
        """How long a signature over a digest for `audience` lives; None for an audience that signs none."""
        return {tokens.AUD_JOB: self.job_signature_lifetime_s, tokens.AUD_CRON: self.cron_signature_lifetime_s,
                tokens.AUD_STEP: self.step_signature_lifetime_s}.get(audience)


class UnsafeRunDir(OSError):
    """The run directory could be written by someone other than its owner."""


def check_run_dir(path: str) -> None:
    """Make `path` (0755) if missing; refuse a symlink, another owner, or group/other write."""
    try:
        os.mkdir(path, 0o755)
        os.chmod(path, 0o755)   # whatever the umask: every user must reach the socket
    except FileExistsError:
        pass
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise UnsafeRunDir(f"{path}: not a directory (a symlink?)")
    if st.st_uid != os.geteuid():
        raise UnsafeRunDir(f"{path}: owned by uid {st.st_uid}, not {os.geteuid()}")
    if st.st_mode & 0o022:
        raise UnsafeRunDir(f"{path}: writable by group or others (mode {stat.S_IMODE(st.st_mode):o})")


def peer_credentials(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process at the other end of a Unix socket, from the kernel."""
    data = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", data)


class _Handler(socketserver.StreamRequestHandler):
    timeout = CLIENT_TIMEOUT_S

    def handle(self):
        service: "CredentialService" = self.server.service  # type: ignore[attr-defined]
        try:
            _, uid, gid = peer_credentials(self.connection)
        except OSError:
            return
        for i in range(MAX_REQUESTS_PER_CONNECTION):
            try:
                line = self.rfile.readline(MAX_REQUEST_BYTES)
                if not line and i > 0:
                    return   # the client has all it asked for
                answer = {"token": service.issue(uid, gid, json.loads(line or b"{}"))}
            except (ValueError, KeyError, TypeError) as exc:
                answer = {"error": f"bad request: {exc}"}
            except OSError:
                return
            try:
                self.wfile.write(json.dumps(answer).encode() + b"\n")
            except OSError:
                return


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    # Connections waiting to be accepted (socketserver's default is 5): a burst of a thousand commands
    # started at once waits here (the kernel caps it at net.core.somaxconn), and beyond it in connect().
    request_queue_size = 4096


class CredentialService:
    """A running credential service on `socket_path`."""

    def __init__(self, key: SigningKey, socket_path: str, *, policy: AuthdPolicy = AuthdPolicy(),
                 host: str | None = None):
        self.key = key
        self.socket_path = socket_path
        self.policy = policy
        self.host = host or socket.gethostname()
        check_run_dir(os.path.dirname(os.path.abspath(socket_path)))
        try:
            os.unlink(socket_path)
        except FileNotFoundError:
            pass
        self._server = _Server(socket_path, _Handler)
        os.chmod(socket_path, 0o666)   # anyone may ask who they are; the answer is the kernel's
        self._server.service = self    # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    def issue(self, uid: int, gid: int, request: dict) -> str:
        audience = str(request.get("aud", tokens.AUD_CONTROLLER))
        claims = {"uid": uid, "gid": gid, "host": self.host}
        if audience == tokens.AUD_CONTROLLER:
            lifetime = self.policy.token_lifetime_s
        elif (lifetime := self.policy.digest_lifetime_s(audience)) is not None:
            digest = str(request["dig"])
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError("dig must be a SHA-256 hex digest")
            claims["dig"] = digest
        else:
            raise ValueError(f"unknown audience {audience!r}")
        return tokens.sign_claims(self.key, claims, audience=audience, lifetime_s=lifetime)

    def start(self) -> "CredentialService":
        self._thread = threading.Thread(target=self._server.serve_forever, name="authd", daemon=True)
        self._thread.start()
        log.info("credential service serving socket=%s kid=%s", self.socket_path, self.key.kid)
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass


def fetch_token(socket_path: str, audience: str = tokens.AUD_CONTROLLER, digest: str | None = None) -> str:
    """A token for this process from the credential service at `socket_path`; raises Unauthenticated."""
    return fetch_tokens(socket_path, [(audience, digest)])[0]


def fetch_tokens(socket_path: str, wanted: Sequence[tuple[str, str | None]]) -> list[str]:
    """Tokens for this process, one per (audience, digest or None) in `wanted` (at most
    `MAX_REQUESTS`), in one round trip to the credential service; raises Unauthenticated."""
    connection = AuthdConnection(socket_path)
    try:
        return connection.fetch(wanted)
    finally:
        connection.close()


class AuthdConnection:
    """A kept connection to the credential service at `socket_path`, for a client that makes many calls.

    The service reads who we are (SO_PEERCRED) when we connect, so the
    connection is made again in a forked child or after a change of uid:
    a process never presents another's identity. A connection the service
    dropped (idle past `CLIENT_TIMEOUT_S`) is made again once; asking again is
    safe (an unused token just expires).
    """

    def __init__(self, socket_path: str):
        self.socket_path = socket_path
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._owner = (0, -1)   # (pid, euid) that made _sock

    def fetch(self, wanted: Sequence[tuple[str, str | None]]) -> list[str]:
        """As `fetch_tokens`, on this connection."""
        if not 0 < len(wanted) <= MAX_REQUESTS:
            raise ValueError(f"between 1 and {MAX_REQUESTS} tokens per round trip, not {len(wanted)}")
        lines = b"".join(json.dumps({"aud": audience, **({"dig": digest} if digest is not None else {})}).encode()
                         + b"\n" for audience, digest in wanted)
        with self._lock:
            kept = self._sock is not None and self._owner == (os.getpid(), os.geteuid())
            data = self._round_trip(lines, len(wanted), fresh=not kept)
            if data is None and kept:
                data = self._round_trip(lines, len(wanted), fresh=True)
        answers = (data or b"").split(b"\n")[:len(wanted)]
        if len(answers) < len(wanted) or not answers[-1]:
            raise Unauthenticated(f"credential service at {self.socket_path} gave no answer")
        return [_token_of(answer, self.socket_path) for answer in answers]

    def _round_trip(self, lines: bytes, n_answers: int, *, fresh: bool) -> bytes | None:
        """The answers' bytes; None when a kept connection failed (the caller may try a fresh one).
        Unauthenticated when a fresh connection fails."""
        if fresh:
            self.close()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            try:
                # Blocking, bounded by SO_SNDTIMEO: a full backlog is waited out in the kernel (a socket
                # with a timeout is non-blocking, and its connect() is refused at once with EAGAIN).
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", CONNECT_TIMEOUT_S, 0))
                sock.connect(self.socket_path)
                sock.settimeout(CLIENT_TIMEOUT_S)
            except OSError as exc:
                sock.close()
                raise Unauthenticated(f"cannot reach the credential service at {self.socket_path}: "
                                      f"{exc.strerror or exc}") from None
            self._sock, self._owner = sock, (os.getpid(), os.geteuid())
        data = b""
        try:
            self._sock.sendall(lines)
            while data.count(b"\n") < n_answers:
                chunk = self._sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError as exc:
            self.close()
            if fresh:
                raise Unauthenticated(f"cannot reach the credential service at {self.socket_path}: "
                                      f"{exc.strerror or exc}") from None
            return None
        if data.count(b"\n") < n_answers:
            self.close()
            return data if fresh else None
        return data

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _token_of(line: bytes, socket_path: str) -> str:
    try:
        answer = json.loads(line)
    except ValueError:
        raise Unauthenticated(f"credential service at {socket_path} gave no answer") from None
    if not isinstance(answer, dict) or "token" not in answer:
        error = answer.get("error", "?") if isinstance(answer, dict) else "?"
        raise Unauthenticated(f"credential service refused: {error}")
    return answer["token"]
