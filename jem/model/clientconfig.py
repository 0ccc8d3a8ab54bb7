"""Where a client finds its cluster: the controller's address, the CA, the credential service.

Read from one TOML file: $JEM_CONFIG, else /etc/jem/client.toml when it
exists, else the default state directory's client.toml (the controller
writes one there for its own user). $JEM_CONTROLLER overrides the address, $JEM_AUTHD_SOCKET the
socket. `jem up` writes such a file for its cluster (world-readable, in
its run directory) and points $JEM_CONFIG at it in its env file.

    controller = "127.0.0.1:7870"          # host:port of the controller's user-facing port
    authd_socket = "/run/jem/authd.sock"   # this host's credential service
    ca_file = "/etc/jem/ca.crt"            # the cluster CA ("" : plaintext, loopback only)
    auth = "jem"                           # the credential to present: "jem" (authd_socket's) or "munge"
    munge_socket = ""                      # with auth = "munge": munged's socket ("" : libmunge's default)
    munge_uid = 0                          # with auth = "munge": the controller's uid, the only decoder
"""

import os
from dataclasses import dataclass

from jem.model import defaults
from jem.model.config import AUTH_METHODS, read_toml
from jem.model.errors import ConfigError

SYSTEM_CLIENT_CONFIG = "/etc/jem/client.toml"
DEFAULT_AUTHD_SOCKET = "/run/jem/authd.sock"
_KEYS = {"controller", "authd_socket", "ca_file", "auth", "munge_socket", "munge_uid"}


@dataclass(frozen=True, slots=True)
class ClientConfig:
    controller: str = ""
    authd_socket: str = DEFAULT_AUTHD_SOCKET
    ca_file: str = ""
    auth: str = "jem"       # "jem": a credential-service token per call; "munge": a MUNGE credential
    munge_socket: str = ""  # "" : libmunge's default socket
    munge_uid: int = 0      # the controller's uid: MUNGE credentials are restricted to it
    path: str = ""          # the file it was read from ("" when none)


def load_client_config() -> ClientConfig:
    path = os.environ.get("JEM_CONFIG", "").strip()
    if not path and os.path.exists(SYSTEM_CLIENT_CONFIG):
        path = SYSTEM_CLIENT_CONFIG
    if not path and os.path.exists(os.path.join(defaults.state_dir(), "client.toml")):
        path = os.path.join(defaults.state_dir(), "client.toml")
    values: dict = {}
    if path:
        raw = read_toml(path)
        unknown = set(raw) - _KEYS
        if unknown:
            raise ConfigError(f"{path}: unknown key {sorted(unknown)[0]!r} (expected {sorted(_KEYS)})")
        for key, value in raw.items():
            if key == "munge_uid":
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32 - 1:
                    raise ConfigError(f"{path}: munge_uid: expected a uid, got {value!r}")
            elif not isinstance(value, str):
                raise ConfigError(f"{path}: {key}: expected a string, got {value!r}")
        if raw.get("auth", "jem") not in AUTH_METHODS:
            raise ConfigError(f"{path}: auth: expected one of {', '.join(AUTH_METHODS)}, got {raw['auth']!r}")
        values = dict(raw)
    if os.environ.get("JEM_CONTROLLER", "").strip():
        values["controller"] = os.environ["JEM_CONTROLLER"].strip()
    if os.environ.get("JEM_AUTHD_SOCKET", "").strip():
        values["authd_socket"] = os.environ["JEM_AUTHD_SOCKET"].strip()
    return ClientConfig(path=path, **values)


def client_config_text(*, controller: str, authd_socket: str, ca_file: str = "", auth: str = "jem",
                       munge_socket: str = "", munge_uid: int = 0) -> str:
    """The client.toml `jem up` and admins write."""
    text = (f'# JEM client configuration (see docs/security.md)\ncontroller = "{controller}"\n'
            f'authd_socket = "{authd_socket}"\nca_file = "{ca_file}"\nauth = "{auth}"\n')
    if auth == "munge":
        text += f'munge_socket = "{munge_socket}"\nmunge_uid = {munge_uid}\n'
    return text
