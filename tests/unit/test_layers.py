"""The layer table of docs/architecture.md, enforced: imports only ever point down it."""

import ast
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
STDLIB = set(sys.stdlib_module_names)

# package -> the first-party packages and third-party libraries it may import
ALLOWED = {
    "jem._core": {"jem._core", "numpy"},
    "jem.model": {"jem.model", "hostlist"},
    "jem.scheduler": {"jem.scheduler", "jem.model", "jem._core", "numpy"},
    "jem.store": {"jem.store", "jem.model"},
    "jem.convert": {"jem.model", "jem.v1", "google.protobuf"},
    "jem.accountingwire": {"jem.model", "jem.v1"},   # (convert.py's counterpart for accounts and QOS)
    # Credentials, keys and certificates (cryptography, PyJWT); grpc in tls.py only, for its credentials.
    "jem.security": {"jem.security", "jem.model", "cryptography", "jwt", "grpc"},
    "jem.controller": {"jem.controller", "jem.model", "jem.scheduler", "jem.store", "jem.v1", "jem.convert", "grpc",
                       "jem.security", "jem.accountingwire", "jem.grpcprobes", "prometheus_client", "jem.httpserve"},
    "jem.agent": {"jem.agent", "jem.model", "jem.v1", "jem.convert", "grpc", "psutil", "hostlist", "jem.security",
                  "jem.grpcprobes", "jem.httpserve", "prometheus_client"},
    # gRPC's standard health and reflection services, which both daemons serve: nothing of JEM's above grpc.
    "jem.grpcprobes": {"grpc", "grpc_health", "grpc_reflection"},
    # A bounded HTTP(S) server of the standard library's (the metrics and the REST gateway).
    "jem.httpserve": set(),
    # The REST gateway: HTTP onto the gRPC API, with the protos' own http rules; a client of the controller.
    "jem.gateway": {"jem.gateway", "jem.v1", "grpc", "google.protobuf", "google.api", "jem.httpserve",
                    "jem._core.wire", "jem._core.jsonrows"},
    "jem.client": {"jem.model", "jem.v1", "jem.convert", "jem.accountingwire", "grpc", "jem.security", "jem.relay",
                   "jem.listedjobs", "jem._core.wire"},
    # A listing's jobs read from ListJobs' serialized pages by the wire kernel (no numpy there), as convert reads them.
    "jem.listedjobs": {"jem.model", "jem.convert", "jem._core.wire", "jem.v1"},
    # The call relay: a transport under the client (unary calls' bytes over a kept channel), nothing above grpc.
    "jem.relay": {"grpc"},
    "jem.cli": {"jem.cli", "jem.client", "jem.model", "hostlist", "psutil", "jem.security"},
    # The Slurm-compatible commands (slurm-compat/jem_slurm): argument parsing and formatting over the client.
    "jem_slurm": {"jem_slurm", "jem.client", "jem.listedjobs", "jem.model", "hostlist", "jem._core.jsonrows"},
}
# The CLI starts the daemons: these two modules, imported inside the command functions only.
# `jem sim` runs the scheduler itself in the CLI process (with numpy, and matplotlib, optional, for --plot).
ENTRY_POINTS = {"jem/cli/daemons.py": {"jem.controller.server", "jem.agent.main", "jem.gateway.server", "jem.httpserve"},
                "jem/cli/sim.py": {"jem.scheduler", "numpy", "matplotlib"},
                # `jem slurm-path` writes the launcher stubs and stops the command servers: it names their key and directory.
                "jem/cli/slurmpath.py": {"jem_slurm.launcher"},
                # `jem` hands its served commands to the same server (and starts it when none is up) ...
                "jem/cli/main.py": {"jem_slurm.launcher", "jem_slurm.inprocess"},
                # ... which runs them (`jem.cli.main.run`) beside the Slurm-named ones, and tells its children
                # where its call relay is.
                "slurm-compat/jem_slurm/forkserver.py": {"jem.cli.main", "jem.relay"}}


SLURM_COMPAT = ROOT / "slurm-compat"


def _module_name(path: pathlib.Path) -> str:
    base = SLURM_COMPAT if path.is_relative_to(SLURM_COMPAT) else ROOT
    return ".".join(path.relative_to(base).with_suffix("").parts)


def _layer(module: str) -> str:
    for layer in sorted(ALLOWED, key=len, reverse=True):
        if module == layer or module.startswith(layer + "."):
            return layer
    raise AssertionError(f"{module} belongs to no layer of the table")


def _imports(path: pathlib.Path) -> list[str]:
    if path.suffix in (".pyx", ".pxd"):
        return re.findall(r"^\s*(?:from|c?import)\s+([\w.]+)", path.read_text(), re.M)
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "jem":
            names.extend(f"jem.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def _allowed(name: str, allowed: set[str]) -> bool:
    top = name.split(".")[0]
    if top in STDLIB or top in ("libc", "cython", "cpython"):
        return True
    return any(name == a or name.startswith(a + ".") for a in allowed)


def test_every_import_points_down_the_layer_table():
    sources = [p for p in (ROOT / "jem").rglob("*") if p.suffix in (".py", ".pyx", ".pxd")
               and "v1" not in p.relative_to(ROOT).parts]
    assert len(sources) > 30
    slurm_sources = list((SLURM_COMPAT / "jem_slurm").rglob("*.py"))
    assert len(slurm_sources) > 5
    sources += slurm_sources
    violations = []
    for path in sources:
        module = _module_name(path)
        if module.endswith(".__init__"):
            module = module[: -len(".__init__")]
        allowed = ALLOWED[_layer(module)] | ENTRY_POINTS.get(str(path.relative_to(ROOT)), set())
        violations += [f"{path.relative_to(ROOT)} imports {name}" for name in _imports(path)
                       if not _allowed(name, allowed)]
    assert violations == []


def test_grpc_and_generated_stubs_stay_in_the_adapters():
    for path in [*(ROOT / "jem").rglob("*.py"), *(SLURM_COMPAT / "jem_slurm").rglob("*.py")]:
        rel = path.relative_to(ROOT).parts
        # relay.py: the client's transport (a kept channel), grpc and nothing of jem.v1's messages;
        # grpcprobes.py: gRPC's standard health and reflection services, for the two daemons;
        # listedjobs.py: a listing read from its bytes, by the field numbers of jem.v1's descriptors.
        if rel[1] in ("controller", "agent", "v1", "gateway") or rel[1] in ("client.py", "convert.py", "accountingwire.py", "relay.py",
                                                                     "grpcprobes.py", "listedjobs.py"):
            continue
        if rel[1:] == ("security", "tls.py"):   # builds grpc's TLS credentials, nothing more
            continue
        imports = _imports(path)
        assert not any(n == "grpc" or n.startswith(("grpc.", "jem.v1")) for n in imports), path
