"""Trackable resources (Slurm's TRES): what a limit counts, as `cpu=4,mem=8G,node=2,gres/gpu=2`.

A `Tres` is a frozen mapping from a TRES name to a whole amount: `cpu` in
CPUs, `mem` in MiB, `node` in nodes, `billing` in billing units (JEM bills a
CPU as 1), `gres/<name>` and `gres/gpu:<type>` in devices. Typed and untyped
GRES both count: a job asking for `gpu:a100:2` holds `gres/gpu=2` and
`gres/gpu:a100=2`, one asking for `gpu:2` only `gres/gpu=2`.

>>> parse_tres("cpu=4,mem=8G,gres/gpu=2")
Tres(cpu=4, mem=8192, gres/gpu=2)
>>> format_tres(parse_tres("mem=1024,cpu=2"))
'cpu=2,mem=1G'
"""

import re
from collections.abc import Iterator, Mapping

from jem.model.units import format_mem_mib, parse_mem_mib

BASIC_TRES = ("cpu", "mem", "energy", "node", "billing")   # Slurm's order; gres/... follow by name
_GRES_NAME = re.compile(r"gres/[A-Za-z][A-Za-z0-9_.+-]*(?::[A-Za-z0-9_.+-]+)?")
CLEAR = -1   # a TRES amount of -1 in a change clears that TRES's limit (sacctmgr's `cpu=-1`)


class Tres(Mapping[str, int]):
    """TRES name -> amount; immutable and hashable, iterated in Slurm's order."""

    __slots__ = ("_items", "_by_name")

    def __init__(self, amounts: Mapping[str, int] | None = None, **kwargs: int):
        merged = dict(amounts or {}, **kwargs)
        self._items = tuple(sorted(((k, int(v)) for k, v in merged.items()), key=lambda kv: _order(kv[0])))
        self._by_name = dict(self._items)

    def __getitem__(self, name: str) -> int:
        return self._by_name[name]

    def get(self, name: str, default=None):
        return self._by_name.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Tres):
            return self._items == other._items
        return isinstance(other, Mapping) and dict(self._items) == dict(other)

    def __repr__(self) -> str:
        return f"Tres({', '.join(f'{k}={v}' for k, v in self._items)})"

    def merged(self, changes: Mapping[str, int]) -> "Tres":
        """These amounts with `changes` applied: a name given CLEAR is removed, others set."""
        amounts = dict(self._items)
        for name, value in changes.items():
            if value == CLEAR:
                amounts.pop(name, None)
            else:
                amounts[name] = value
        return Tres(amounts)

    def __add__(self, other: Mapping[str, int]) -> "Tres":
        amounts = dict(self._items)
        for name, value in other.items():
            amounts[name] = amounts.get(name, 0) + value
        return Tres(amounts)

    def scaled(self, factor: int) -> "Tres":
        return Tres({k: v * factor for k, v in self._items})


NO_TRES = Tres()


def _order(name: str) -> tuple[int, str]:
    return (BASIC_TRES.index(name), "") if name in BASIC_TRES else (len(BASIC_TRES), name)


def is_tres_name(name: str) -> bool:
    return name in BASIC_TRES or _GRES_NAME.fullmatch(name) is not None


def parse_tres(text: str, *, allow_clear: bool = False) -> Tres:
    """`name=amount[,name=amount...]`; memory takes K/M/G/T (MiB by default). With `allow_clear`,
    an amount of -1 stands for CLEAR. ValueError names what is wrong."""
    amounts: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip().lower()
        if name == "gpu" or name.startswith("gpu:"):   # (sacctmgr's shorthand is always gres/gpu)
            name = "gres/" + name
        if not sep or not is_tres_name(name):
            raise ValueError(f"invalid TRES {item!r}: use cpu=N, mem=N[KMGT], node=N, billing=N or gres/NAME[:TYPE]=N")
        value = value.strip()
        if allow_clear and value == "-1":
            amounts[name] = CLEAR
            continue
        try:
            amount = parse_mem_mib(value) if name == "mem" else int(value)
        except ValueError:
            raise ValueError(f"invalid TRES amount {item!r}") from None
        if amount < 0:
            raise ValueError(f"invalid TRES amount {item!r}")
        amounts[name] = amount
    return Tres(amounts)


def format_tres(tres: Mapping[str, int]) -> str:
    """Slurm's form: `cpu=4,mem=8G,node=2,gres/gpu=2` (memory with its largest exact unit)."""
    return ",".join(f"{name}={format_mem_mib(v) if name == 'mem' else v}" for name, v in Tres(tres).items())


def job_tres(*, cpus: int, mem_mib: int, n_nodes: int, gpus: int, gpu_type: str = "",
             gres: tuple[tuple[str, int], ...] = ()) -> Tres:
    """What a job holds, counted as limits count it: its totals over all its nodes (`gpus` and
    `gres` per node; `cpus` and `mem_mib` in all). Billing is its CPUs. A GPU type is named in
    lower case, as TRES names are read (parse_tres; Slurm's database keeps them so).

    >>> job_tres(cpus=2, mem_mib=1024, n_nodes=2, gpus=1, gpu_type="A100")
    Tres(cpu=2, mem=1024, node=2, billing=2, gres/gpu=2, gres/gpu:a100=2)
    """
    amounts = {"cpu": cpus, "mem": mem_mib, "node": n_nodes, "billing": cpus}
    if gpus:
        amounts["gres/gpu"] = gpus * n_nodes
        if gpu_type:
            amounts[f"gres/gpu:{gpu_type.lower()}"] = gpus * n_nodes
    for name, count in gres:
        if count:
            amounts[f"gres/{name}"] = count * n_nodes
    return Tres(amounts)
