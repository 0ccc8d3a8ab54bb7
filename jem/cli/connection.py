"""The CLI's way to the controller: `connect()` gives a jem.client.Client, importing it on the first call.

jem.client brings grpc, the generated stubs and the security stack (a quarter of a
second): only the commands that talk to the controller pay for it, when they run,
and never `jem --help`, a usage error, `jem sim` or `jem slurm-path` (as in
slurm-compat's `jem_slurm.command.connect`). Command modules import nothing of
jem.client at their top; tests/unit/test_cli_imports.py holds them to it.
"""


def connect(address: str | None = None, **options):
    """A jem.client.Client for the controller at `address` (default: the one $JEM_CONTROLLER,
    $JEM_CONFIG or the state dir names); `options` are the Client's keyword arguments. In a
    command server's child its unary calls go through the server's call relay (`jem.relay`)."""
    from jem.client import Client

    return Client(address, **options)
