"""Certificate revocation: the cluster CA's revocation list (`ca.crl`) and the daemons' check of a peer against it.

`jem ca revoke NAME` (on the host that holds `ca.key`) adds the serial of
`controller.crt` or `nodes/<N>.crt` to `ca.crl`, an X.509 CRL signed by the
CA; the admin copies it beside `ca.crt` on every host, as `ca.crt` itself.
gRPC's Python TLS cannot check a CRL in the handshake, so the daemons check
the verified peer certificate after it: the controller on its node port
(a revoked node's agent can no longer register, heartbeat or report), and
agents on the controller's calls (a stolen controller key no longer reaches
them). The list is re-read when the file changes. A list that is present
but not the CA's (unsigned by it, unreadable, malformed) fails closed: every
peer counts as revoked until it is fixed, as a broken JWKS file refuses
every external token.

Everything here is `cryptography` x509; no grpc.
"""

import datetime
import functools
import logging
import os
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from jem.security.ca import CA_CERT, CAError, cert_paths, load_ca, read_nofollow, write_replacing

log = logging.getLogger(__name__)

CA_CRL = "ca.crl"
CRL_DAYS = 3650   # the list's nextUpdate: JEM reads the file it has, it never fetches a newer one


def revoke(security_dir: str, cert_name: str) -> int:
    """Add the certificate `cert_name` ("controller" or "nodes/<N>") of `security_dir` to its CA's
    revocation list; returns its serial. CAError when the certificate is not this CA's."""
    ca_cert, ca_key = load_ca(security_dir)
    try:
        cert = x509.load_pem_x509_certificate(read_nofollow(cert_paths(security_dir, cert_name).cert))
    except ValueError as exc:
        raise CAError(f"cannot read the certificate {cert_name!r}: {exc}") from None
    if cert.issuer != ca_cert.subject:
        raise CAError(f"{cert_name!r} was not issued by the CA of {security_dir}")
    now = datetime.datetime.now(datetime.timezone.utc)
    revoked = {entry.serial_number: entry.revocation_date_utc for entry in _list_of(security_dir, ca_cert) or ()}
    revoked.setdefault(cert.serial_number, now)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca_cert.subject)
               .last_update(now).next_update(now + datetime.timedelta(days=CRL_DAYS)))
    for serial, when in sorted(revoked.items()):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
    crl = builder.sign(ca_key, hashes.SHA256())
    write_replacing(os.path.join(security_dir, CA_CRL), crl.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert.serial_number


def _list_of(security_dir: str, ca_cert: x509.Certificate) -> x509.CertificateRevocationList | None:
    """The CA's revocation list in `security_dir`, None when there is none; CAError when the file is
    there but is not a list the CA signed."""
    try:
        crl = x509.load_pem_x509_crl(read_nofollow(os.path.join(security_dir, CA_CRL)))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CAError(f"cannot read {os.path.join(security_dir, CA_CRL)}: {exc}") from None
    if crl.issuer != ca_cert.subject or not crl.is_signature_valid(ca_cert.public_key()):
        raise CAError(f"{os.path.join(security_dir, CA_CRL)} is not signed by the cluster CA")
    return crl


class RevocationList:
    """The revoked serials of `security_dir`'s `ca.crl`, re-read when the file (or `ca.crt`) changes."""

    def __init__(self, security_dir: str):
        self._security_dir = security_dir
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._serials: frozenset[int] = frozenset()
        self._fail_closed = False

    def _stamp_now(self) -> tuple:
        stamp = []
        for name in (CA_CRL, CA_CERT):
            try:
                st = os.stat(os.path.join(self._security_dir, name))
                stamp.append((st.st_mtime_ns, st.st_ino, st.st_size))
            except FileNotFoundError:
                stamp.append(None)
        return tuple(stamp)

    def _reload(self) -> None:
        try:
            ca_cert = x509.load_pem_x509_certificate(read_nofollow(os.path.join(self._security_dir, CA_CERT)))
            crl = _list_of(self._security_dir, ca_cert)
        except FileNotFoundError:   # no CA here (a plaintext loopback cluster): nothing is revoked
            crl = None
        except (CAError, OSError, ValueError) as exc:
            log.error("revocation list unusable, refusing every peer until it is fixed error=%s", exc)
            self._fail_closed = True
            return
        self._fail_closed = False
        self._serials = frozenset(entry.serial_number for entry in crl or ())

    def is_revoked(self, pem: bytes) -> bool:
        """Whether the peer certificate `pem` (verified by TLS) is on the list, or the list is unusable."""
        with self._lock:
            stamp = self._stamp_now()
            if stamp != self._stamp:
                self._reload()
                self._stamp = stamp
            return self._fail_closed or _serial_of(pem) in self._serials


@functools.lru_cache(maxsize=1024)
def _serial_of(pem: bytes) -> int:
    return x509.load_pem_x509_certificate(pem).serial_number
