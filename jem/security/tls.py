"""gRPC TLS credentials from a security directory (see `jem.security.ca`), and who a peer is.

    server = grpc.server(...)
    server.add_secure_port(addr, server_credentials(d, "nodes/n1", require_client_cert=True))
    channel = grpc.secure_channel(f"{ip}:{port}", channel_credentials(d, "controller"),
                                  options=[target_name_override("n1")])
    ...
    role = peer_role(context)   # PeerRole("controller", "controller") for the controller's calls

Optional client certificates: python grpc cannot ask for a client certificate
without also requiring it. `grpc.ssl_server_credentials(..., require_client_auth=False)`
maps to GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE even when root certificates are
given, so a client's certificate is then never sent and `peer_role` is None
(tests/unit/test_tls.py checks this). A port is therefore either mutual TLS
(daemons only) or server-auth TLS (anyone who trusts ca.crt; callers then prove
who they are some other way, e.g. a token); serving both needs two ports.
"""

import functools
import os
from dataclasses import dataclass

import grpc

from jem.security.ca import CA_CERT, CAError, PeerRole, cert_paths, role_of, validate_node_name

__all__ = ["PeerRole", "server_credentials", "channel_credentials", "peer_role", "peer_certificate",
           "target_name_override", "TARGET_NAME_OVERRIDE"]

TARGET_NAME_OVERRIDE = "grpc.ssl_target_name_override"
_PEM_CERT = "x509_pem_cert"


@dataclass(frozen=True)
class _Material:
    ca: bytes
    cert: bytes | None
    key: bytes | None


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise CAError(f"{path} is missing") from None
    except OSError as exc:
        raise CAError(f"cannot read {path}: {exc.strerror}") from None


def _material(security_dir: str, cert_name: str | None) -> _Material:
    ca = _read(f"{security_dir}/{CA_CERT}")
    if cert_name is None:
        return _Material(ca, None, None)
    paths = cert_paths(security_dir, cert_name)
    return _Material(ca, _read(paths.cert), _read(paths.key))


def has_certificate(security_dir: str, cert_name: str) -> bool:
    """Whether the CA certificate and `cert_name`'s certificate and key are all in `security_dir`."""
    paths = cert_paths(security_dir, cert_name)
    return all(os.path.exists(p) for p in (f"{security_dir}/{CA_CERT}", paths.cert, paths.key))


def server_credentials(security_dir: str, cert_name: str, *, require_client_cert: bool) -> grpc.ServerCredentials:
    """TLS with `cert_name`'s certificate ("controller" or "nodes/<N>"). With `require_client_cert`,
    mutual TLS: a client must present a certificate issued by the cluster CA (ca.crt).
    Without it, clients are not asked for a certificate at all (see the module docstring)."""
    m = _material(security_dir, cert_name)
    return grpc.ssl_server_credentials([(m.key, m.cert)],
                                       root_certificates=m.ca if require_client_cert else None,
                                       require_client_auth=require_client_cert)


def channel_credentials(security_dir: str, cert_name: str | None = None) -> grpc.ChannelCredentials:
    """TLS trusting only the cluster CA; with `cert_name` ("controller" or "nodes/<N>") also
    presenting that certificate to the server (mutual TLS)."""
    m = _material(security_dir, cert_name)
    return grpc.ssl_channel_credentials(root_certificates=m.ca, private_key=m.key, certificate_chain=m.cert)


def target_name_override(node_name: str) -> tuple[str, str]:
    """The channel option that checks the server's certificate for DNS name `node_name`
    instead of the dialed host: for reaching node N's agent at an IP address."""
    return (TARGET_NAME_OVERRIDE, validate_node_name(node_name))


def peer_certificate(context: grpc.ServicerContext) -> bytes | None:
    """The PEM certificate the peer presented (verified by TLS), or None."""
    try:
        values = context.auth_context().get(_PEM_CERT) or []
    except (AttributeError, ValueError):
        return None
    return values[0] if values else None


def peer_role(context: grpc.ServicerContext) -> PeerRole | None:
    """The role in the caller's client certificate (`urn:jem:controller` or `urn:jem:node:<N>`);
    None without a client certificate (insecure port, server-auth-only TLS) or without a role."""
    pem = peer_certificate(context)
    return _role_of_pem(pem) if pem is not None else None


@functools.lru_cache(maxsize=1024)
def _role_of_pem(pem: bytes) -> PeerRole | None:
    """`role_of` a peer's PEM, parsed once: every node call presents the same few certificates
    (parsing one costs ~30 µs, a lookup ~1 µs). A pure function of the bytes, so caching changes nothing."""
    return role_of(pem)
