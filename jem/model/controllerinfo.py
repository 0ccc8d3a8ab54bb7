"""Who the controller is, as Ping answers (scontrol ping, jem ping, and the cluster name the
Slurm-compatible commands print)."""

import importlib.metadata
from dataclasses import dataclass


def jem_version() -> str:
    """The installed JEM's version ("0.1.0"); "unknown" when run from a tree that is not installed."""
    try:
        return importlib.metadata.version("jem")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class ControllerInfo:
    cluster_name: str
    host: str
    version: str
    server_time: float   # the controller's clock when it answered (epoch seconds)
