"""Ed25519 signing keys and the public key sets that verify them.

A key id (`kid`) is the first 16 hex digits of the SHA-256 of the raw public
key, so any holder of the public key can name it. A `PublicKeySet` is a
directory of `<anything>.pub` PEM files; it is re-read when the directory
changes, so a new key is trusted (and a removed one distrusted) without a
restart: this is how keys are rotated.

Private keys are written 0600 with O_EXCL|O_NOFOLLOW, never over an existing file.
"""

import hashlib
import os
import threading
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKey:
    """A private key and its id."""

    kid: str
    private_key: Ed25519PrivateKey

    @property
    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo)


def _write_new(path: str, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)


def generate_signing_key(path: str, *, public_dir: str | None = None) -> SigningKey:
    """A new Ed25519 key written to `path` (0600); its public half also to `public_dir/<kid>.pub`."""
    private_key = Ed25519PrivateKey.generate()
    key = SigningKey(key_id(private_key.public_key()), private_key)
    _write_new(path, private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()), 0o600)
    if public_dir is not None:
        export_public_key(key, public_dir)
    return key


SECURITY_DIR_MODE = 0o755


def make_security_dir(path: str) -> None:
    """Make the security directory (`/etc/jem`) if it is missing: 0755 exactly, whatever the umask.

    It holds what every user must read (client.toml, ca.crt) beside the keys, and
    each private key is 0600 on its own, as in /etc/ssh. A directory that exists
    keeps its owner and mode: the site chose them.
    """
    os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o755, exist_ok=True)
    try:
        os.mkdir(path, SECURITY_DIR_MODE)
    except FileExistsError:
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fchmod(fd, SECURITY_DIR_MODE)
    finally:
        os.close(fd)


def export_public_key(key: SigningKey, public_dir: str) -> str:
    """Write the public half to `public_dir/<kid>.pub` (0644); returns the path."""
    os.makedirs(public_dir, mode=0o755, exist_ok=True)
    path = os.path.join(public_dir, f"{key.kid}.pub")
    if not os.path.exists(path):
        _write_new(path, key.public_pem, 0o644)
    return path


def load_signing_key(path: str) -> SigningKey:
    """The Ed25519 key in PEM file `path`; ValueError if it is not one."""
    with open(path, "rb") as f:
        private_key = serialization.load_pem_private_key(f.read(), password=None)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return SigningKey(key_id(private_key.public_key()), private_key)


def load_or_generate_signing_key(path: str, *, public_dir: str | None = None) -> SigningKey:
    try:
        key = load_signing_key(path)
    except FileNotFoundError:
        return generate_signing_key(path, public_dir=public_dir)
    if public_dir is not None:
        export_public_key(key, public_dir)
    return key


class PublicKeySet:
    """The public keys in a directory, by key id; re-read when the directory's mtime changes."""

    def __init__(self, directory: str):
        self.directory = directory
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, Ed25519PublicKey] = {}

    def _stamp_now(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.directory)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_ino)

    def _reload(self) -> None:
        keys: dict[str, Ed25519PublicKey] = {}
        try:
            names = sorted(os.listdir(self.directory))
        except FileNotFoundError:
            names = []
        for name in names:
            if not name.endswith(".pub"):
                continue
            try:
                with open(os.path.join(self.directory, name), "rb") as f:
                    public_key = serialization.load_pem_public_key(f.read())
            except (OSError, ValueError):
                continue
            if isinstance(public_key, Ed25519PublicKey):
                keys[key_id(public_key)] = public_key
        self._keys = keys

    def get(self, kid: str) -> Ed25519PublicKey | None:
        with self._lock:
            stamp = self._stamp_now()
            if stamp != self._stamp:
                self._reload()
                self._stamp = stamp
            return self._keys.get(kid)

    def kids(self) -> list[str]:
        self.get("")
        return sorted(self._keys)
