"""MUNGE credentials through libmunge (ctypes), for sites that already run munged.

`encode` asks the local munged for a credential carrying this process's uid/gid
(and an optional payload); `decode` asks munged to validate one and returns who
made it. munged learns the caller's uid from the socket itself, so a credential
cannot be forged without the cluster's shared key.

Only the runtime library (`libmunge.so.2`, Debian package libmunge2) is needed,
and only when a function is called: importing this module always works, and
without the library every call raises `MungeError("libmunge is not installed")`.

Every failure is a `MungeError`, an `Unauthenticated` (reason "Unauthenticated")
whose `munge_code` says which: `MungeCode.CRED_REPLAYED`, `CRED_EXPIRED`,
`CRED_UNAUTHORIZED` (a uid restriction that excludes the decoder, root included),
`SOCKET` (munged unreachable), ...; None when libmunge itself is missing.
"""

import ctypes
import ctypes.util
import enum
import threading
from dataclasses import dataclass

from jem.model.errors import Unauthenticated

# munge_opt_t, from munge.h (0.5.x)
MUNGE_OPT_TTL = 4
MUNGE_OPT_SOCKET = 8
MUNGE_OPT_UID_RESTRICTION = 9
MUNGE_UID_ANY = 2**32 - 1   # (uid_t) -1: no uid restriction


class MungeCode(enum.IntEnum):
    """munge_err_t, from munge.h (0.5.x)."""

    SUCCESS = 0
    SNAFU = 1
    BAD_ARG = 2
    BAD_LENGTH = 3
    OVERFLOW = 4
    NO_MEMORY = 5
    SOCKET = 6            # munged unreachable (no socket, refused, ...)
    TIMEOUT = 7
    BAD_CRED = 8          # not a credential at all
    BAD_VERSION = 9
    BAD_CIPHER = 10
    BAD_MAC = 11
    BAD_ZIP = 12
    BAD_REALM = 13
    CRED_INVALID = 14     # e.g. made with another key
    CRED_EXPIRED = 15
    CRED_REWOUND = 16     # encoded in the future (clock skew)
    CRED_REPLAYED = 17    # already decoded once
    CRED_UNAUTHORIZED = 18  # uid/gid restriction excludes the decoder


class MungeError(Unauthenticated):
    """A MUNGE call that failed; `munge_code` is a `MungeCode` (None: libmunge missing)."""

    def __init__(self, detail: str = "", munge_code: "MungeCode | int | None" = None):
        super().__init__(detail)
        self.munge_code = munge_code


@dataclass(frozen=True)
class MungeCredential:
    """What a valid credential says: who encoded it, the payload it carries, and the one uid
    allowed to decode it (None: any uid)."""

    uid: int
    gid: int
    payload: bytes
    uid_restriction: "int | None" = None


_lock = threading.Lock()
_libs: "tuple[ctypes.CDLL, ctypes.CDLL] | None" = None


def _load() -> "tuple[ctypes.CDLL, ctypes.CDLL]":
    """libmunge and libc, loaded (and their signatures declared) on first use."""
    global _libs
    with _lock:
        if _libs is not None:
            return _libs
        try:
            munge = ctypes.CDLL("libmunge.so.2")
        except OSError:
            name = ctypes.util.find_library("munge")
            if not name:
                raise MungeError("libmunge is not installed") from None
            try:
                munge = ctypes.CDLL(name)
            except OSError:
                raise MungeError("libmunge is not installed") from None
        try:
            libc = ctypes.CDLL("libc.so.6")
        except OSError:
            libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.free.argtypes = [ctypes.c_void_p]
        libc.free.restype = None
        munge.munge_ctx_create.argtypes = []
        munge.munge_ctx_create.restype = ctypes.c_void_p
        munge.munge_ctx_destroy.argtypes = [ctypes.c_void_p]
        munge.munge_ctx_destroy.restype = None
        munge.munge_ctx_strerror.argtypes = [ctypes.c_void_p]
        munge.munge_ctx_strerror.restype = ctypes.c_char_p
        # munge_ctx_set is variadic: no argtypes; every argument is passed as an explicit ctypes value.
        munge.munge_ctx_set.restype = ctypes.c_int
        munge.munge_ctx_get.restype = ctypes.c_int   # variadic too
        munge.munge_strerror.argtypes = [ctypes.c_int]
        munge.munge_strerror.restype = ctypes.c_char_p
        munge.munge_encode.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p, ctypes.c_void_p,
                                       ctypes.c_int]
        munge.munge_encode.restype = ctypes.c_int
        munge.munge_decode.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p),
                                       ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_uint),
                                       ctypes.POINTER(ctypes.c_uint)]
        munge.munge_decode.restype = ctypes.c_int
        _libs = (munge, libc)
        return _libs


def _code(err: int) -> "MungeCode | int":
    try:
        return MungeCode(err)
    except ValueError:
        return err


def _error(munge: ctypes.CDLL, ctx: "int | None", err: int) -> MungeError:
    text = munge.munge_ctx_strerror(ctx) if ctx else None
    if not text:
        text = munge.munge_strerror(err)
    detail = text.decode("utf-8", "replace") if text else f"munge error {err}"
    return MungeError(detail, _code(err))


def _context(munge: ctypes.CDLL, socket_path: "str | None") -> int:
    ctx = munge.munge_ctx_create()
    if not ctx:
        raise MungeError("munge_ctx_create failed (out of memory)", MungeCode.NO_MEMORY)
    if socket_path is not None:
        err = munge.munge_ctx_set(ctypes.c_void_p(ctx), ctypes.c_int(MUNGE_OPT_SOCKET),
                                  ctypes.c_char_p(socket_path.encode()))
        if err:
            exc = _error(munge, ctx, err)
            munge.munge_ctx_destroy(ctx)
            raise exc
    return ctx


def _set_int(munge: ctypes.CDLL, ctx: int, opt: int, value: "ctypes.c_int | ctypes.c_uint") -> None:
    err = munge.munge_ctx_set(ctypes.c_void_p(ctx), ctypes.c_int(opt), value)
    if err:
        raise _error(munge, ctx, err)


def _uid_restriction(munge: ctypes.CDLL, ctx: int) -> "int | None":
    """The uid restriction of the credential just decoded with `ctx` (None: unrestricted)."""
    value = ctypes.c_uint(MUNGE_UID_ANY)
    err = munge.munge_ctx_get(ctypes.c_void_p(ctx), ctypes.c_int(MUNGE_OPT_UID_RESTRICTION), ctypes.byref(value))
    if err:
        raise _error(munge, ctx, err)
    return None if value.value == MUNGE_UID_ANY else value.value


def encode(payload: bytes = b"", *, socket_path: "str | None" = None, uid_restriction: "int | None" = None,
           ttl_s: "int | None" = None) -> str:
    """A credential for this process's uid/gid carrying `payload`, from the munged at `socket_path`.

    `uid_restriction`: only that uid may decode it (root is no exception). `ttl_s`: seconds it stays
    valid (munged's default, 300, when None; munged caps it at its --max-ttl).
    """
    payload = bytes(payload)
    if ttl_s is not None and (not isinstance(ttl_s, int) or ttl_s < 1):
        raise ValueError(f"ttl_s must be a positive number of seconds, not {ttl_s!r}")
    if uid_restriction is not None and (not isinstance(uid_restriction, int) or not 0 <= uid_restriction < 2**32 - 1):
        raise ValueError(f"uid_restriction must be a uid, not {uid_restriction!r}")
    munge, libc = _load()
    ctx = _context(munge, socket_path)
    try:
        if ttl_s is not None:
            _set_int(munge, ctx, MUNGE_OPT_TTL, ctypes.c_int(ttl_s))
        if uid_restriction is not None:
            _set_int(munge, ctx, MUNGE_OPT_UID_RESTRICTION, ctypes.c_uint(uid_restriction))
        cred = ctypes.c_void_p()
        buf = ctypes.create_string_buffer(payload, len(payload)) if payload else None
        err = munge.munge_encode(ctypes.byref(cred), ctx, buf, len(payload))
        try:
            if err:
                raise _error(munge, ctx, err)
            return ctypes.string_at(cred.value).decode("ascii")
        finally:
            if cred.value:
                libc.free(cred.value)
    finally:
        munge.munge_ctx_destroy(ctx)


def decode(cred: str, *, socket_path: "str | None" = None) -> MungeCredential:
    """Who encoded `cred` and its payload, as validated by the munged at `socket_path`.

    Each credential decodes once (a second time is `CRED_REPLAYED`), within its ttl (`CRED_EXPIRED`),
    and only by the uid it is restricted to, if any (`CRED_UNAUTHORIZED`).
    """
    if not isinstance(cred, str):
        raise MungeError(f"a credential is a string, not {type(cred).__name__}", MungeCode.BAD_CRED)
    try:
        raw = cred.encode("ascii")
    except UnicodeEncodeError:
        raise MungeError("Invalid credential format", MungeCode.BAD_CRED) from None
    if b"\0" in raw:
        raise MungeError("Invalid credential format", MungeCode.BAD_CRED)
    munge, libc = _load()
    ctx = _context(munge, socket_path)
    try:
        buf = ctypes.c_void_p()
        length = ctypes.c_int(0)
        uid = ctypes.c_uint(0)
        gid = ctypes.c_uint(0)
        err = munge.munge_decode(raw, ctx, ctypes.byref(buf), ctypes.byref(length), ctypes.byref(uid),
                                 ctypes.byref(gid))
        try:
            if err:
                raise _error(munge, ctx, err)
            payload = ctypes.string_at(buf.value, length.value) if buf.value and length.value > 0 else b""
            return MungeCredential(uid=uid.value, gid=gid.value, payload=payload,
                                   uid_restriction=_uid_restriction(munge, ctx))
        finally:
            if buf.value:   # allocated even for some errors (expired, rewound, replayed)
                libc.free(buf.value)
    finally:
        munge.munge_ctx_destroy(ctx)
