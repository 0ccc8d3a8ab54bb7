"""The cluster CA: a self-signed root that issues the controller's and the nodes' TLS certificates.

Layout of a security directory (`/etc/jem` on a real cluster, `<state_dir>/security`
for a local one):

    ca.crt, ca.key                   the cluster CA (ca.key 0600)
    controller.crt, controller.key   the controller's certificate
    nodes/<N>.crt, nodes/<N>.key     node N's certificate (used by the agent of N)
    ca.crl                           the CA's revocation list, once one was revoked (revocation.py)

Every leaf certificate names its role in a SAN URI, `urn:jem:controller` or
`urn:jem:node:<N>`, so a daemon learns who called it from the verified client
certificate alone (`role_of`). Leaf certificates also carry SAN DNS names / IP
addresses for the hosts they are reached at: for a node its own name `<N>` (a
caller that dials an IP verifies the node by name with `grpc.ssl_target_name_override`),
for the controller `jem-controller`, `localhost` and 127.0.0.1. Both daemons
are client and server to each other, so leaf certificates allow serverAuth and clientAuth.

Keys are ECDSA P-256 (BoringSSL, inside grpc, does not do Ed25519 certificates
in TLS). Private keys are written 0600 with O_EXCL|O_NOFOLLOW, never through a
symlink; an existing CA key is never overwritten; a leaf is replaced only when asked
(a new file then renamed over the old, so a reader never sees half a key).

Everything here is `cryptography` x509; no grpc.
"""

import datetime
import ipaddress
import os
import re
from dataclasses import dataclass
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from jem.model.errors import CAError, CAExists, CANotFound, CertExists, InvalidName  # noqa: F401 (this module's errors)

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
CONTROLLER = "controller"
NODES_DIR = "nodes"
CONTROLLER_DNS = "jem-controller"
URI_CONTROLLER = "urn:jem:controller"
URI_NODE_PREFIX = "urn:jem:node:"

CA_DAYS = 3650
LEAF_DAYS = 825
_BACKDATE = datetime.timedelta(minutes=5)  # tolerate clocks a little behind the CA's

_NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,252}")
_DNS_NAME = re.compile(r"(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})?)*\.?")


class IssuedPaths(NamedTuple):
    cert: str
    key: str


@dataclass(frozen=True)
class PeerRole:
    """Who a certificate belongs to: kind "controller" (name "controller") or "node" (name = node name)."""

    kind: str
    name: str

    @property
    def is_controller(self) -> bool:
        return self.kind == "controller"

    @property
    def is_node(self) -> bool:
        return self.kind == "node"


# ---------------------------------------------------------------------------- names and paths

def validate_node_name(node: str) -> str:
    """`node` if it is a usable node name (letters, digits, '-', '_', '.', starting alphanumeric)."""
    if not isinstance(node, str) or not _NODE_NAME.fullmatch(node):
        raise InvalidName(f"node name {node!r}: use letters, digits, '-', '_', '.' (starting with a letter or digit)")
    return node


def cert_paths(security_dir: str, cert_name: str) -> IssuedPaths:
    """The files of "controller", "nodes/<N>" or "ca" in `security_dir`."""
    if cert_name == "ca":
        return IssuedPaths(os.path.join(security_dir, CA_CERT), os.path.join(security_dir, CA_KEY))
    if cert_name == CONTROLLER:
        base = os.path.join(security_dir, CONTROLLER)
    elif cert_name.startswith(NODES_DIR + "/"):
        base = os.path.join(security_dir, NODES_DIR, validate_node_name(cert_name[len(NODES_DIR) + 1:]))
    else:
        raise InvalidName(f"certificate name {cert_name!r}: expected 'controller' or 'nodes/<N>'")
    return IssuedPaths(base + ".crt", base + ".key")


def _san_entries(hosts: list[str]) -> list[x509.GeneralName]:
    """SAN DNS names / IP addresses for `hosts` (IPs recognised by ipaddress), in order, without repeats."""
    entries: list[x509.GeneralName] = []
    for host in hosts:
        if not isinstance(host, str) or not host:
            raise InvalidName(f"host {host!r}")
        try:
            entry: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host.strip("[]")))
        except ValueError:
            if len(host) > 253 or not _DNS_NAME.fullmatch(host):
                raise InvalidName(f"host {host!r}: not an IP address or DNS name") from None
            entry = x509.DNSName(host.rstrip(".").lower())
        if entry not in entries:
            entries.append(entry)
    return entries


# ---------------------------------------------------------------------------- files

def _write_new(path: str, data: bytes, mode: int) -> None:
    """Create `path` with `data`; fails if anything (a file, a symlink) is already there."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)


def write_replacing(path: str, data: bytes, mode: int) -> None:
    """Write `data` to a new file next to `path`, then rename it over `path` (atomic)."""
    tmp = f"{path}.tmp-{os.getpid()}-{os.urandom(4).hex()}"
    _write_new(tmp, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_nofollow(path: str) -> bytes:
    """Read a file without following a symlink at its last component."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _makedirs(path: str) -> None:
    os.makedirs(path, mode=0o755, exist_ok=True)


# ---------------------------------------------------------------------------- the CA

def init_ca(security_dir: str, *, name: str = "JEM cluster CA", days: int = CA_DAYS) -> IssuedPaths:
    """Create the cluster CA (ca.key 0600, ca.crt 0644) in `security_dir`; raises CAExists if ca.key is there."""
    if days < 1:
        raise CAError(f"validity of {days} days")
    paths = cert_paths(security_dir, "ca")
    if os.path.lexists(paths.key):
        raise CAExists(paths.key)
    _makedirs(security_dir)
    key = _new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = _now()
    public = key.public_key()
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256()))
    try:
        _write_new(paths.key, _key_pem(key), 0o600)
    except FileExistsError:
        raise CAExists(paths.key) from None
    write_replacing(paths.cert, _cert_pem(cert), 0o644)
    return paths


def load_ca(security_dir: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA certificate and key of `security_dir`; raises CANotFound."""
    paths = cert_paths(security_dir, "ca")
    try:
        cert = x509.load_pem_x509_certificate(read_nofollow(paths.cert))
        key = serialization.load_pem_private_key(read_nofollow(paths.key), password=None)
    except FileNotFoundError as exc:
        raise CANotFound(f"{exc.filename} (run `jem ca init` first)") from None
    except ValueError as exc:
        raise CAError(f"cannot read the CA in {security_dir}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise CAError(f"{paths.key} does not match {paths.cert}")
    return cert, key


def _issue(security_dir: str, cert_name: str, common_name: str, role_uri: str,
           names: list[x509.GeneralName], days: int, replace: bool) -> IssuedPaths:
    if days < 1:
        raise CAError(f"validity of {days} days")
    ca_cert, ca_key = load_ca(security_dir)
    paths = cert_paths(security_dir, cert_name)
    if not replace and os.path.lexists(paths.key):
        raise CertExists(f"{paths.key} (pass replace to issue a new one)")
    _makedirs(os.path.dirname(paths.key))
    key = _new_key()
    public = key.public_key()
    now = _now()
    not_after = min(now + datetime.timedelta(days=days), ca_cert.not_valid_after_utc)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _BACKDATE)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(role_uri), *names]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .sign(ca_key, hashes.SHA256()))
    if replace:
        write_replacing(paths.key, _key_pem(key), 0o600)
    else:
        try:
            _write_new(paths.key, _key_pem(key), 0o600)
        except FileExistsError:
            raise CertExists(paths.key) from None
    write_replacing(paths.cert, _cert_pem(cert), 0o644)
    return paths


def issue_controller_cert(security_dir: str, *, hosts: list[str] = (), days: int = LEAF_DAYS,
                          replace: bool = False) -> IssuedPaths:
    """controller.crt/.key: role `urn:jem:controller`, names jem-controller, localhost, 127.0.0.1 and `hosts`."""
    names = _san_entries([CONTROLLER_DNS, "localhost", "127.0.0.1", *hosts])
    return _issue(security_dir, CONTROLLER, CONTROLLER_DNS, URI_CONTROLLER, names, days, replace)


def issue_node_cert(security_dir: str, node: str, *, hosts: list[str] = (), days: int = LEAF_DAYS,
                    replace: bool = False) -> IssuedPaths:
    """nodes/<node>.crt/.key: role `urn:jem:node:<node>`, names `<node>` and `hosts`."""
    validate_node_name(node)
    names = _san_entries([node, *hosts])
    return _issue(security_dir, f"{NODES_DIR}/{node}", node, URI_NODE_PREFIX + node, names, days, replace)


# ---------------------------------------------------------------------------- roles

def role_of(cert: x509.Certificate | bytes) -> PeerRole | None:
    """The role in a certificate's SAN URI (a PEM certificate or a parsed one); None if it has none,
    or more than one, or a malformed one. Does not verify the certificate: TLS has done that."""
    if isinstance(cert, (bytes, str)):
        try:
            cert = x509.load_pem_x509_certificate(cert.encode() if isinstance(cert, str) else cert)
        except ValueError:
            return None
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    roles = []
    for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
        if uri == URI_CONTROLLER:
            roles.append(PeerRole("controller", CONTROLLER))
        elif uri.startswith(URI_NODE_PREFIX):
            name = uri[len(URI_NODE_PREFIX):]
            if not _NODE_NAME.fullmatch(name):
                return None
            roles.append(PeerRole("node", name))
    return roles[0] if len(roles) == 1 else None
