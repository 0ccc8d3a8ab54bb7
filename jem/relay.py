"""The call relay: a per-user process that keeps warm gRPC channels, so a short-lived command's unary calls skip
gRPC's start-up, the TCP connect and the TLS handshake.

A command child of the Slurm-compatible command server (`jem_slurm.forkserver`)
is a fresh process for gRPC: its first call would initialise gRPC's core,
connect and do a TLS handshake with the controller, about 6 ms of a 30 ms
`sbatch`. The command server starts one relay beside it (`python -m jem.relay
SOCKET PARENT_PID`); its children hand each unary call's bytes to the relay over a Unix
socket, and the relay makes the call on a channel it keeps open per (controller
address, CA). Streaming calls (WatchJobs, RunStep) still go out directly.

The relay is a transport and nothing more. It adds no identity: every call
carries the credential its caller fetched for itself (a credential-service
token, a MUNGE credential or a JWT), and it serves only its own user: the
socket is 0600 in the user's 0700 runtime directory and each peer's uid is
checked with SO_PEERCRED. It exits when its parent (the command server) goes
away, on SIGTERM, and after `idle_s` ($JEM_SERVER_IDLE_S) without a call.

Wire format on the socket, each frame a 4-byte little-endian length and bytes:
  request = header frame (JSON: target, ca_file, method, timeout_s, metadata
            [[key, value], ...]) + body frame (the serialized request)
  reply   = header frame (JSON: code (grpc.StatusCode's int, 0 = OK), details,
            trailing [[key, value], ...]) + body frame (the serialized response)
A connection carries any number of calls, one after another.
"""

import json
import os
import select
import signal
import socket
import struct
import sys
import threading
import time

import grpc

MAX_FRAME_BYTES = 256 << 20   # above the largest message the controller sends or accepts
DEFAULT_IDLE_S = 600.0
MAX_CHANNELS = 4   # controllers (or CAs) one user's commands talk to at once; older channels are closed
# Connections waiting to be accepted: a burst of commands started at once waits here (the kernel caps it
# at net.core.somaxconn), and beyond it in connect(), never refused.
BACKLOG = 4096
_CODES = {code.value[0]: code for code in grpc.StatusCode}


def channel_to(address: str, ca_file: str) -> grpc.Channel:
    """A channel to the controller at `address`: TLS verified by the CA in `ca_file`, plaintext without one
    (loopback only). OSError when the CA cannot be read."""
    return _channel_with(address, _read_ca(ca_file))


def _read_ca(ca_file: str) -> bytes:
    if not ca_file:
        return b""
    with open(ca_file, "rb") as f:
        return f.read()


# A job's record (GetJob, with its script and environment) may be larger than gRPC's
# default 4 MiB; the controller bounds what it stores (jem.model.limits) well below this.
MAX_MESSAGE_BYTES = 64 << 20
_CHANNEL_OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)]


def _channel_with(address: str, ca: bytes) -> grpc.Channel:
    if not ca:
        return grpc.insecure_channel(address, options=_CHANNEL_OPTIONS)
    return grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=ca), options=_CHANNEL_OPTIONS)


# ------------------------------------------------------------------ frames


def _send_frames(sock: socket.socket, *frames: bytes) -> None:
    sock.sendall(b"".join(len(f).to_bytes(4, "little") + f for f in frames))


def _recv_exact(sock: socket.socket, n_bytes: int) -> bytes | None:
    """Exactly `n_bytes`, or None when the peer closed before sending any; ConnectionError part-way."""
    data = bytearray()
    while len(data) < n_bytes:
        chunk = sock.recv(min(n_bytes - len(data), 1 << 20))
        if not chunk:
            if data:
                raise ConnectionError("relay peer closed mid-frame")
            return None
        data += chunk
    return bytes(data)


def _recv_frame(sock: socket.socket) -> bytes | None:
    header = _recv_exact(sock, 4)
    if header is None:
        return None
    size = int.from_bytes(header, "little")
    if size > MAX_FRAME_BYTES:
        raise ConnectionError(f"relay frame of {size} bytes")
    return _recv_exact(sock, size) if size else b""


# ------------------------------------------------------------------ client side

# In a command server's child: the socket of the server's relay. A child is one command's process, so
# one value serves every client it makes (jem.client.Client's default).
_socket_in_this_process: str | None = None


def use_in_this_process(socket_path: str) -> None:
    """Send the unary calls of every client this process makes from now on through the relay at `socket_path`."""
    global _socket_in_this_process
    _socket_in_this_process = socket_path


def socket_in_this_process() -> str | None:
    """The relay `use_in_this_process` named, or None (call the controller directly)."""
    return _socket_in_this_process



class RelayedCallError(grpc.RpcError):
    """A call the relay made that ended with a status other than OK: read like grpc's own RpcError."""

    def __init__(self, code: grpc.StatusCode, details: str, trailing: tuple[tuple[str, str], ...]):
        super().__init__(details)
        self._code, self._details, self._trailing = code, details, trailing

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._trailing


class RelayChannel:
    """The part of grpc.Channel the generated stubs use, with unary calls through the relay at `socket_path`.

    Streaming calls, and every call once the relay cannot be reached (it is
    not up yet, or has gone), use a real channel made on first need. A call
    already handed to the relay is never sent a second time: if the relay is
    lost before it answers, the call fails with UNAVAILABLE.
    """

    def __init__(self, socket_path: str, address: str, ca_file: str):
        self._socket_path = socket_path
        self._address = address
        self._ca_file = ca_file
        self._sock: socket.socket | None = None
        self._relay_down = False
        self._direct: grpc.Channel | None = None
        self._lock = threading.Lock()

    def direct(self) -> grpc.Channel:
        if self._direct is None:
            self._direct = channel_to(self._address, self._ca_file)
        return self._direct

    def unary_unary(self, method, request_serializer=None, response_deserializer=None, _registered_method=False):
        return _RelayedUnary(self, method, request_serializer, response_deserializer)

    def unary_stream(self, method, request_serializer=None, response_deserializer=None, _registered_method=False):
        return _Deferred(lambda: self.direct().unary_stream(method, request_serializer, response_deserializer))

    def stream_unary(self, method, request_serializer=None, response_deserializer=None, _registered_method=False):
        return _Deferred(lambda: self.direct().stream_unary(method, request_serializer, response_deserializer))

    def stream_stream(self, method, request_serializer=None, response_deserializer=None, _registered_method=False):
        return _Deferred(lambda: self.direct().stream_stream(method, request_serializer, response_deserializer))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._direct is not None:
            self._direct.close()

    def _connected(self) -> socket.socket | None:
        if self._sock is None and not self._relay_down:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            try:
                sock.connect(self._socket_path)
            except OSError:
                sock.close()
                self._relay_down = True
                return None
            self._sock = sock
        return self._sock

    def call(self, method: str, request: bytes, *, timeout_s: float | None,
             metadata: tuple[tuple[str, str], ...]) -> bytes | None:
        """The response's bytes through the relay; None when the relay cannot be reached (nothing was sent)."""
        with self._lock:
            sock = self._connected()
            if sock is None:
                return None
            header = json.dumps({"target": self._address, "ca_file": self._ca_file, "method": method,
                                 "timeout_s": timeout_s, "metadata": [list(m) for m in metadata]}).encode()
            sock.settimeout(None if timeout_s is None else timeout_s + 10.0)
            try:
                _send_frames(sock, header, request)
                reply, body = _recv_frame(sock), _recv_frame(sock)
                if reply is None or body is None:
                    raise ConnectionError("the relay closed the connection")
            except OSError as exc:
                self._sock = None
                self._relay_down = True
                sock.close()
                raise RelayedCallError(grpc.StatusCode.UNAVAILABLE, f"call relay lost: {exc}", ()) from None
            except BaseException:   # a signal handler's exception mid-call: this call's answer would be read
                self._sock = None   # as the next call's, so the next call gets a fresh connection
                sock.close()
                raise
        answer = json.loads(reply)
        if answer["code"] != 0:
            raise RelayedCallError(_CODES.get(answer["code"], grpc.StatusCode.UNKNOWN), answer["details"],
                                   tuple(tuple(m) for m in answer["trailing"]))
        return body


class _RelayedUnary:
    """A unary method: through the relay when it answers, else on the direct channel."""

    def __init__(self, channel: RelayChannel, method: str, serializer, deserializer):
        self._channel, self._method = channel, method
        self._serializer, self._deserializer = serializer, deserializer

    def __call__(self, request, timeout=None, metadata=None, **kwargs):
        body = self._channel.call(self._method, self._serializer(request), timeout_s=timeout,
                                  metadata=tuple(metadata or ()))
        if body is None:
            direct = self._channel.direct().unary_unary(self._method, self._serializer, self._deserializer)
            return direct(request, timeout=timeout, metadata=metadata, **kwargs)
        return self._deserializer(body)


class _Deferred:
    """A streaming method on the direct channel, made when first called (so a command that never streams
    never starts gRPC)."""

    def __init__(self, make):
        self._make = make

    def __call__(self, *args, **kwargs):
        return self._make()(*args, **kwargs)


# ------------------------------------------------------------------ the relay process


class Relay:
    """The listening socket and one channel per (address, CA file) its callers named."""

    def __init__(self, socket_path: str, *, idle_s: float):
        self.socket_path = socket_path
        self.idle_s = idle_s
        self._channels: dict[tuple[str, bytes], grpc.Channel] = {}   # (address, CA) -> channel, oldest first
        self._lock = threading.Lock()
        self._last_call = time.monotonic()
        self._listener: socket.socket | None = None
        self._socket_ino = 0

    def listen(self) -> None:
        """Bind under a private name and rename into place, so the socket appears ready to connect; 0600."""
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old_umask = os.umask(0o177)
        try:
            listener.bind(f"{self.socket_path}.{os.getpid()}")
        finally:
            os.umask(old_umask)
        listener.listen(BACKLOG)
        os.rename(f"{self.socket_path}.{os.getpid()}", self.socket_path)
        self._listener = listener
        self._socket_ino = os.stat(self.socket_path).st_ino

    def serve(self, parent_pid: int, stop_fd: int) -> None:
        """Accept until idle, `stop_fd` is readable, or `parent_pid` is no longer our parent; each
        connection is served on a thread."""
        try:
            while os.getppid() == parent_pid and time.monotonic() - self._last_call < self.idle_s:
                ready, _, _ = select.select([self._listener, stop_fd], [], [], 1.0)
                if stop_fd in ready:
                    break
                if self._listener in ready:
                    conn, _ = self._listener.accept()
                    threading.Thread(target=self._serve_connection, args=(conn,), daemon=True).start()
        finally:
            self._listener.close()
            try:   # ours only: a relay of the next command server may already have bound the same name
                if os.stat(self.socket_path).st_ino == self._socket_ino:
                    os.unlink(self.socket_path)
            except FileNotFoundError:
                pass

    def _serve_connection(self, conn: socket.socket) -> None:
        with conn:
            _, peer_uid, _ = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            if peer_uid != os.getuid():   # the socket's mode already says so; a relay serves its own user only
                print(f"jem relay: refused a connection from uid {peer_uid}", file=sys.stderr, flush=True)
                return
            try:
                while True:
                    header = _recv_frame(conn)
                    body = _recv_frame(conn) if header is not None else None
                    if header is None or body is None:
                        return
                    self._last_call = time.monotonic()
                    _send_frames(conn, *self._relay(json.loads(header), body))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                print(f"jem relay: connection dropped: {exc!r}", file=sys.stderr, flush=True)

    def _channel(self, address: str, ca_file: str) -> grpc.Channel:
        """The kept channel to `address` trusting the CA now in `ca_file`: read on every call, so a cluster
        made anew (a new CA at the same path) is reached with its own. At most `MAX_CHANNELS` are kept."""
        key = (address, _read_ca(ca_file))
        with self._lock:
            channel = self._channels.pop(key, None) or _channel_with(*key)
            self._channels[key] = channel   # now the newest
            while len(self._channels) > MAX_CHANNELS:
                self._channels.pop(next(iter(self._channels))).close()
            return channel

    def _relay(self, request: dict, body: bytes) -> tuple[bytes, bytes]:
        metadata = tuple((str(k), str(v)) for k, v in request["metadata"])
        timeout_s = request["timeout_s"]
        try:
            channel = self._channel(str(request["target"]), str(request["ca_file"]))
            method = channel.unary_unary(str(request["method"]))
            response = method(body, timeout=None if timeout_s is None else float(timeout_s), metadata=metadata)
        except OSError as exc:   # the CA file
            return _reply(grpc.StatusCode.UNAVAILABLE, f"cannot read the cluster CA: {exc.strerror}", ()), b""
        except grpc.RpcError as exc:
            return _reply(exc.code(), exc.details() or "", tuple(exc.trailing_metadata() or ())), b""
        return _reply(grpc.StatusCode.OK, "", ()), response


def _reply(code: grpc.StatusCode, details: str, trailing) -> bytes:
    trailing = [[k, v if isinstance(v, str) else v.decode("latin-1")] for k, v in trailing]
    return json.dumps({"code": code.value[0], "details": details, "trailing": trailing}).encode()


def main(argv: list[str] | None = None) -> int:
    """`python -m jem.relay SOCKET PARENT_PID`: serve until PARENT_PID (the command server that starts it) is
    no longer our parent."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not args[1].isdigit():
        print("usage: python -m jem.relay SOCKET PARENT_PID", file=sys.stderr)
        return 2
    relay = Relay(args[0], idle_s=float(os.environ.get("JEM_SERVER_IDLE_S", DEFAULT_IDLE_S)))
    relay.listen()
    stop_r, stop_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(stop_w)   # SIGTERM (the command server leaving) wakes the accept loop
    signal.signal(signal.SIGTERM, lambda *_: None)
    relay.serve(int(args[1]), stop_r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
