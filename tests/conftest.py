"""Settings every test process needs before anything imports gRPC."""

import os

# The tests hold gRPC channels (and their threads) while they fork helpers with
# subprocess (a command run as another Unix user, say). gRPC's fork handlers then
# crash the child between fork and exec now and again (SIGSEGV or SIGABRT), as
# they would in the agent; `jem` turns them off for the same reason (cli/main.py).
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
