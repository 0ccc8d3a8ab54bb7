"""The cluster CA (jem.security.ca), gRPC TLS credentials (jem.security.tls) and `jem ca`,
with real gRPC servers on 127.0.0.1."""

import ipaddress
import os
import stat
import subprocess
import sys
from concurrent import futures

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from jem.security import ca, tls

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 10


@pytest.fixture(scope="module")
def sec(tmp_path_factory) -> str:
    d = str(tmp_path_factory.mktemp("security"))
    ca.init_ca(d)
    ca.issue_controller_cert(d, hosts=["ctl.example", "10.1.2.3"])
    for node in ("n1", "n2", "gpu_01.rack-2"):
        ca.issue_node_cert(d, node, hosts=[])
    return d


@pytest.fixture(scope="module")
def other(tmp_path_factory) -> str:
    """A second, unrelated CA with its own certificates under the same names."""
    d = str(tmp_path_factory.mktemp("other"))
    ca.init_ca(d, name="another CA")
    ca.issue_controller_cert(d, hosts=[])
    ca.issue_node_cert(d, "n1", hosts=[])
    return d


def _whoami(request: bytes, context: grpc.ServicerContext) -> bytes:
    role = tls.peer_role(context)
    return b"none" if role is None else f"{role.kind}:{role.name}".encode()


class Server:
    def __init__(self, credentials: grpc.ServerCredentials):
        handler = grpc.method_handlers_generic_handler(
            "jemtest.Echo", {"WhoAmI": grpc.unary_unary_rpc_method_handler(_whoami)})
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        self.server.add_generic_rpc_handlers((handler,))
        self.port = self.server.add_secure_port("127.0.0.1:0", credentials)
        self.server.start()

    def call(self, credentials: grpc.ChannelCredentials, host: str = "localhost", options=()) -> bytes:
        with grpc.secure_channel(f"{host}:{self.port}", credentials, options=list(options)) as channel:
            return channel.unary_unary("/jemtest.Echo/WhoAmI")(b"", timeout=TIMEOUT)

    def refuses(self, credentials: grpc.ChannelCredentials, host: str = "localhost", options=()) -> None:
        with pytest.raises(grpc.RpcError) as err:
            self.call(credentials, host, options)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE

    def stop(self) -> None:
        self.server.stop(None)


@pytest.fixture
def serve():
    servers = []

    def start(credentials):
        servers.append(Server(credentials))
        return servers[-1]
    yield start
    for s in servers:
        s.stop()


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _cert(path: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(_read(path))


def _san(path: str) -> x509.SubjectAlternativeName:
    return _cert(path).extensions.get_extension_for_class(x509.SubjectAlternativeName).value


# ---------------------------------------------------------------------------- the CA and its files

def test_layout_modes_and_key_type(sec):
    for name in ("ca", "controller", "nodes/n1"):
        paths = ca.cert_paths(sec, name)
        assert stat.S_IMODE(os.stat(paths.key).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(paths.cert).st_mode) == 0o644
        key = serialization.load_pem_private_key(_read(paths.key), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
        assert key.public_key() == _cert(paths.cert).public_key()
    assert os.path.exists(os.path.join(sec, "nodes", "n1.crt"))


def test_ca_certificate(sec):
    cert = _cert(os.path.join(sec, "ca.crt"))
    assert cert.subject == cert.issuer
    assert cert.subject.rfc4514_string() == "CN=JEM cluster CA"
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days >= 3650


def test_leaf_certificates_verify_and_carry_roles(sec):
    ca_cert = _cert(os.path.join(sec, "ca.crt"))
    for name in ("controller", "nodes/n1"):
        cert = _cert(ca.cert_paths(sec, name).cert)
        cert.verify_directly_issued_by(ca_cert)
        assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert set(eku) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
        assert 800 <= (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 826

    san = _san(os.path.join(sec, "controller.crt"))
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:jem:controller"]
    assert san.get_values_for_type(x509.DNSName) == ["jem-controller", "localhost", "ctl.example"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1"),
                                                       ipaddress.ip_address("10.1.2.3")]
    san = _san(os.path.join(sec, "nodes", "n1.crt"))
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == ["urn:jem:node:n1"]
    assert san.get_values_for_type(x509.DNSName) == ["n1"]
    assert san.get_values_for_type(x509.IPAddress) == []

    assert ca.role_of(_read(os.path.join(sec, "controller.crt"))) == ca.PeerRole("controller", "controller")
    assert ca.role_of(_read(os.path.join(sec, "nodes", "n1.crt"))) == ca.PeerRole("node", "n1")
    assert ca.role_of(_read(os.path.join(sec, "ca.crt"))) is None


def test_node_hosts_become_dns_and_ip_names(tmp_path):
    d = str(tmp_path)
    ca.init_ca(d)
    cert_path, key_path = ca.issue_node_cert(d, "c7", hosts=["c7.ib.cluster", "10.0.0.7", "fe80::7", "c7", "10.0.0.7"])
    assert key_path == os.path.join(d, "nodes", "c7.key")
    san = _san(cert_path)
    assert san.get_values_for_type(x509.DNSName) == ["c7", "c7.ib.cluster"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.7"),
                                                       ipaddress.ip_address("fe80::7")]


def test_refuses_to_overwrite(tmp_path):
    d = str(tmp_path)
    ca.init_ca(d)
    ca_key = _read(os.path.join(d, "ca.key"))
    with pytest.raises(ca.CAExists):
        ca.init_ca(d)
    assert _read(os.path.join(d, "ca.key")) == ca_key

    cert_path, key_path = ca.issue_node_cert(d, "n1", hosts=[])
    old = _read(key_path)
    with pytest.raises(ca.CertExists):
        ca.issue_node_cert(d, "n1", hosts=[])
    assert _read(key_path) == old
    ca.issue_node_cert(d, "n1", hosts=["10.0.0.1"], replace=True)
    assert _read(key_path) != old
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    assert sorted(os.listdir(os.path.join(d, "nodes"))) == ["n1.crt", "n1.key"]  # no temporary files left


def test_does_not_write_keys_through_symlinks(tmp_path):
    d = tmp_path / "sec"
    d.mkdir()
    target = tmp_path / "elsewhere"
    os.symlink(target, d / "ca.key")
    with pytest.raises(ca.CAExists):
        ca.init_ca(str(d))
    assert not target.exists()


def test_issue_without_ca(tmp_path):
    with pytest.raises(ca.CANotFound):
        ca.issue_controller_cert(str(tmp_path), hosts=[])


@pytest.mark.parametrize("name", ["", "..", ".hidden", "-n", "a/b", "n 1", "n1\n", "ñ1", "x" * 254])
def test_invalid_node_names(tmp_path, name):
    ca.init_ca(str(tmp_path))
    with pytest.raises(ca.InvalidName):
        ca.issue_node_cert(str(tmp_path), name, hosts=[])
    with pytest.raises(ca.InvalidName):
        ca.cert_paths(str(tmp_path), "nodes/" + name)


@pytest.mark.parametrize("host", ["", "a b", "x/y", "under score?", "ñ.example"])
def test_invalid_hosts(tmp_path, host):
    ca.init_ca(str(tmp_path))
    with pytest.raises(ca.InvalidName):
        ca.issue_node_cert(str(tmp_path), "n1", hosts=[host])
    assert not os.path.exists(os.path.join(tmp_path, "nodes", "n1.key"))


# ---------------------------------------------------------------------------- gRPC: mutual TLS

def test_mtls_node_client(sec, serve):
    server = serve(tls.server_credentials(sec, "controller", require_client_cert=True))
    assert server.call(tls.channel_credentials(sec, "nodes/n1")) == b"node:n1"
    assert server.call(tls.channel_credentials(sec, "nodes/n2")) == b"node:n2"


def test_mtls_controller_client_to_agent(sec, serve):
    server = serve(tls.server_credentials(sec, "nodes/n1", require_client_cert=True))
    creds = tls.channel_credentials(sec, "controller")
    assert server.call(creds, "127.0.0.1", [tls.target_name_override("n1")]) == b"controller:controller"


def test_mtls_refuses_client_without_certificate(sec, serve):
    server = serve(tls.server_credentials(sec, "controller", require_client_cert=True))
    server.refuses(tls.channel_credentials(sec))


def test_mtls_refuses_certificate_from_another_ca(sec, other, serve):
    server = serve(tls.server_credentials(sec, "controller", require_client_cert=True))
    foreign = ca.cert_paths(other, "nodes/n1")
    creds = grpc.ssl_channel_credentials(root_certificates=_read(os.path.join(sec, "ca.crt")),
                                         private_key=_read(foreign.key), certificate_chain=_read(foreign.cert))
    server.refuses(creds)


def test_client_refuses_server_from_another_ca(sec, other, serve):
    server = serve(tls.server_credentials(other, "controller", require_client_cert=True))
    server.refuses(tls.channel_credentials(sec, "nodes/n1"))


# ---------------------------------------------------------------------------- gRPC: server-auth-only TLS

def test_server_auth_only(sec, other, serve):
    server = serve(tls.server_credentials(sec, "controller", require_client_cert=False))
    assert server.call(tls.channel_credentials(sec)) == b"none"
    assert server.call(tls.channel_credentials(sec), "127.0.0.1") == b"none"
    server.refuses(tls.channel_credentials(other))


def test_optional_client_certificate_is_not_possible(sec, serve):
    """The finding: with root certificates and require_client_auth=False, grpc does not ask
    for a client certificate (GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE), so one a client
    has is never sent: the call works, but the server cannot tell who called."""
    paths = ca.cert_paths(sec, "controller")
    creds = grpc.ssl_server_credentials([(_read(paths.key), _read(paths.cert))],
                                        root_certificates=_read(os.path.join(sec, "ca.crt")),
                                        require_client_auth=False)
    server = serve(creds)
    assert server.call(tls.channel_credentials(sec, "nodes/n1")) == b"none"
    assert server.call(tls.channel_credentials(sec)) == b"none"


# ---------------------------------------------------------------------------- verifying a node by name at an IP

@pytest.mark.parametrize("node", ["n1", "gpu_01.rack-2"])
def test_target_name_override(sec, serve, node):
    server = serve(tls.server_credentials(sec, f"nodes/{node}", require_client_cert=True))
    creds = tls.channel_credentials(sec, "controller")
    assert tls.target_name_override(node) == ("grpc.ssl_target_name_override", node)
    assert server.call(creds, "127.0.0.1", [tls.target_name_override(node)]) == b"controller:controller"
    server.refuses(creds, "127.0.0.1", [tls.target_name_override("n2")])
    server.refuses(creds, "127.0.0.1")  # the node's certificate has no IP address


def test_missing_files_are_jem_errors(tmp_path, sec):
    with pytest.raises(ca.CAError):
        tls.channel_credentials(str(tmp_path))
    with pytest.raises(ca.CAError):
        tls.server_credentials(sec, "nodes/nobody", require_client_cert=True)
    with pytest.raises(ca.InvalidName):
        tls.server_credentials(sec, "../ca", require_client_cert=True)


# ---------------------------------------------------------------------------- `jem ca`

def _jem(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jem.cli.main", "ca", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_cli(tmp_path):
    d = str(tmp_path / "sec")
    r = _jem("init", "--dir", d)
    assert r.returncode == 0, r.stderr
    assert os.path.join(d, "ca.crt") in r.stdout and os.path.join(d, "ca.key") in r.stdout

    r = _jem("init", "--dir", d)
    assert r.returncode == 1
    assert r.stderr.startswith("jem ca: error: ") and "already exists" in r.stderr

    r = _jem("issue-controller", "--host", "ctl1", "--host", "192.168.0.1", "--dir", d)
    assert r.returncode == 0, r.stderr
    r = _jem("issue-node", "n1", "--host", "10.0.0.1", "--dir", d)
    assert r.returncode == 0, r.stderr
    assert os.path.join(d, "nodes", "n1.crt") in r.stdout

    for key in ("ca.key", "controller.key", "nodes/n1.key"):
        assert stat.S_IMODE(os.stat(os.path.join(d, key)).st_mode) == 0o600
    san = _san(os.path.join(d, "controller.crt"))
    assert "ctl1" in san.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("192.168.0.1") in san.get_values_for_type(x509.IPAddress)
    assert ca.role_of(_read(os.path.join(d, "nodes", "n1.crt"))) == ca.PeerRole("node", "n1")

    r = _jem("issue-node", "n1", "--dir", d)
    assert r.returncode == 1 and "already exists" in r.stderr
    r = _jem("issue-node", "n1", "--replace", "--dir", d)
    assert r.returncode == 0, r.stderr
    r = _jem("issue-node", "bad/name", "--dir", d)
    assert r.returncode == 1 and r.stderr.startswith("jem ca: error: invalid name")
    r = _jem("issue-node", "n2", "--dir", str(tmp_path / "empty"))
    assert r.returncode == 1 and "no cluster CA" in r.stderr
