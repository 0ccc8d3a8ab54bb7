"""The call relay (`jem/relay.py`) in this process against a real TLS gRPC server: calls and their errors cross it
as they would a direct channel, the CA is read anew for every call, and a relay that is not there sends nothing."""

import os
import signal
import socket
import threading
from concurrent import futures

import grpc
import pytest

from jem import relay
from jem.security import ca, tls

METHOD = "/jem.v1.JobService/GetJob"


# A b"slow" call says it has arrived, then answers once released.
_SLOW_ARRIVED, _SLOW_RELEASED = threading.Event(), threading.Event()


def _echo(request: bytes, context: grpc.ServicerContext) -> bytes:
    if request == b"slow":
        _SLOW_ARRIVED.set()
        _SLOW_RELEASED.wait(30)
    if request == b"missing":
        context.abort_with_status(_Status(grpc.StatusCode.NOT_FOUND, "Invalid job id specified",
                                          (("jem-reason", "JobNotFound"),)))
    return b"echo:" + request + b":" + dict(context.invocation_metadata()).get("jem-token", "").encode()


class _Status(grpc.Status):
    def __init__(self, code, details, trailing_metadata):
        self.code, self.details, self.trailing_metadata = code, details, trailing_metadata


@pytest.fixture
def controller(tmp_path):
    """A TLS server (the cluster CA's controller certificate) answering METHOD; yields (address, security dir)."""
    security = str(tmp_path / "security")
    ca.init_ca(security)
    ca.issue_controller_cert(security)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    handler = grpc.unary_unary_rpc_method_handler(_echo)
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("jem.v1.JobService", {"GetJob": handler})])
    port = server.add_secure_port("127.0.0.1:0", tls.server_credentials(security, "controller",
                                                                        require_client_cert=False))
    server.start()
    try:
        yield f"127.0.0.1:{port}", security
    finally:
        server.stop(0)


@pytest.fixture
def relay_socket(tmp_path):
    path = str(tmp_path / "relay.sock")
    serving = relay.Relay(path, idle_s=60.0)
    serving.listen()
    stop_r, stop_w = os.pipe()
    thread = threading.Thread(target=serving.serve, args=(os.getppid(), stop_r), daemon=True)
    thread.start()
    yield path
    os.write(stop_w, b"x")
    thread.join(10)
    assert not thread.is_alive() and not os.path.exists(path)   # it stopped and took its socket away
    os.close(stop_r)
    os.close(stop_w)


def _call(channel: relay.RelayChannel, request: bytes, token: str = "t1") -> bytes:
    method = channel.unary_unary(METHOD, request_serializer=lambda b: b, response_deserializer=lambda b: b)
    return method(request, timeout=10, metadata=(("jem-token", token),))


def test_a_call_and_its_error_cross_the_relay_as_they_would_a_channel(controller, relay_socket):
    address, security = controller
    channel = relay.RelayChannel(relay_socket, address, os.path.join(security, "ca.crt"))
    assert _call(channel, b"x", "tok") == b"echo:x:tok"   # the caller's own credential, unchanged
    assert _call(channel, b"y") == b"echo:y:t1"           # one connection serves many calls
    with pytest.raises(grpc.RpcError) as caught:
        _call(channel, b"missing")
    assert isinstance(caught.value, relay.RelayedCallError)
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    assert caught.value.details() == "Invalid job id specified"
    assert ("jem-reason", "JobNotFound") in caught.value.trailing_metadata()
    channel.close()


def test_the_relay_trusts_the_ca_now_in_the_file_not_the_one_it_first_read(controller, relay_socket, tmp_path):
    address, security = controller
    other = str(tmp_path / "other")
    ca.init_ca(other)                       # another cluster's CA at the path the client names
    ca_file = str(tmp_path / "client-ca.crt")
    with open(os.path.join(other, "ca.crt"), "rb") as src, open(ca_file, "wb") as dst:
        dst.write(src.read())
    channel = relay.RelayChannel(relay_socket, address, ca_file)
    with pytest.raises(grpc.RpcError) as caught:   # the server's certificate does not verify
        _call(channel, b"x")
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    with open(os.path.join(security, "ca.crt"), "rb") as src, open(ca_file, "wb") as dst:
        dst.write(src.read())
    assert _call(channel, b"x") == b"echo:x:t1"
    channel.close()


def test_without_a_relay_the_call_goes_direct_and_is_sent_once(controller, tmp_path):
    address, security = controller
    missing = str(tmp_path / "no-relay.sock")
    channel = relay.RelayChannel(missing, address, os.path.join(security, "ca.crt"))
    assert _call(channel, b"x") == b"echo:x:t1"
    channel.close()


def test_a_relay_lost_mid_call_fails_the_call_rather_than_sending_it_twice(controller, tmp_path):
    address, security = controller
    path = str(tmp_path / "dying.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def take_and_drop():
        conn, _ = listener.accept()
        conn.recv(65536)   # the call arrives ...
        conn.close()       # ... and the relay dies before it answers

    threading.Thread(target=take_and_drop, daemon=True).start()
    channel = relay.RelayChannel(path, address, os.path.join(security, "ca.crt"))
    with pytest.raises(grpc.RpcError) as caught:
        _call(channel, b"x")
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
    assert "relay lost" in caught.value.details()
    listener.close()
    channel.close()


class _Interrupted(Exception):
    pass


def _raise_interrupted(signum, frame):
    raise _Interrupted(signum)


def test_a_call_a_signal_interrupts_leaves_the_next_call_its_own_answer(controller, relay_socket):
    # salloc's signal handler raises out of a GetJob that waits at the controller, then cancels:
    # the cancel must not read the abandoned call's answer.
    address, security = controller
    channel = relay.RelayChannel(relay_socket, address, os.path.join(security, "ca.crt"))
    _SLOW_ARRIVED.clear()
    _SLOW_RELEASED.clear()
    previous = signal.signal(signal.SIGUSR1, _raise_interrupted)
    try:
        def interrupt_once_it_waits():
            if _SLOW_ARRIVED.wait(30):
                os.kill(os.getpid(), signal.SIGUSR1)   # handled in the main thread, blocked in the call

        threading.Thread(target=interrupt_once_it_waits, daemon=True).start()
        with pytest.raises(_Interrupted):
            _call(channel, b"slow")
    finally:
        signal.signal(signal.SIGUSR1, previous)
        _SLOW_RELEASED.set()
    assert _call(channel, b"next") == b"echo:next:t1"
    channel.close()
