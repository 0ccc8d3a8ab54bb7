"""Generic resources as --gres writes them: `gpu:2`, `nvme:1`, `gpu:a100:2,nvme`.

GPUs have their own column (jem.model.resources.Res.GPU); every other name is
a further countable resource that nodes declare in the configuration
(`gres = {nvme = 2}`) and the scheduler appends as matrix columns.
"""

import re

_ITEM = re.compile(r"([A-Za-z][A-Za-z0-9_.+-]*)(?::([A-Za-z0-9_.+-]+))?(?::(\d+))?")


def parse_gres(text: str) -> tuple[int, tuple[tuple[str, int], ...]]:
    """(GPUs per node, other (name, count) per node, names sorted); a missing count is 1.
    Raises ValueError for a malformed list.

    >>> parse_gres("gpu:a100:2,nvme:1")
    (2, (('nvme', 1),))
    >>> parse_gres("nvme")
    (0, (('nvme', 1),))
    """
    gpus, others = 0, {}
    for item in text.split(","):
        match = _ITEM.fullmatch(item.strip())
        if not match:
            raise ValueError(f"{item!r} is not name[:type][:count]")
        name, kind, count = match.groups()
        if count is None and kind is not None and kind.isdigit():
            kind, count = None, kind
        if kind is not None and name != "gpu":
            raise ValueError(f"{item!r}: only gpu takes a type")
        n = int(count) if count is not None else 1
        if name == "gpu":
            gpus += n
        else:
            others[name] = others.get(name, 0) + n
    return gpus, tuple(sorted(others.items()))
