"""Generic resources as --gres writes them: `gpu:2`, `nvme:1`, `gpu:a100:2,nvme`; and GPU types.

GPUs have their own column (jem.model.resources.Res.GPU); every other name is
a further countable resource that nodes declare in the configuration
(`gres = {nvme = 2}`) and the scheduler appends as matrix columns.

A GPU may have a type (Slurm's gres.conf `Type=`): a node entry gives its GPUs'
one type (`gpu_type = "a100"`), a job asks for it with `gpu:a100:2`. Types are
matched as node features: a typed node offers the implied feature `gpu:a100`
(`GPU_FEATURE_PREFIX` + type) and a typed job requires it, so the scheduler's
feature masks do the matching; an untyped GPU request fits any GPU node.
"""

import re
from dataclasses import dataclass

from jem.model.errors import InvalidFeature

# A GPU type as Slurm's gres.conf Type= takes it; never all digits, which `gpu:2` reads as a count.
_TYPE = r"[A-Za-z0-9_.+-]+"
_ITEM = re.compile(rf"([A-Za-z][A-Za-z0-9_.+-]*)(?::({_TYPE}))?(?::(\d+))?")
GPU_FEATURE_PREFIX = "gpu:"


@dataclass(frozen=True, slots=True)
class GresRequest:
    """What one --gres (or --gpus) value asks for on each node."""

    gpus: int = 0                                 # GPUs per node
    gpu_type: str = ""                            # their type; "": any GPU
    others: tuple[tuple[str, int], ...] = ()      # (name, count) of further resources, names sorted


def parse_gres(text: str) -> GresRequest:
    """The request of `name[:type][:count][,...]`; a missing count is 1. Raises ValueError for
    a malformed list, a type on anything but gpu, or GPUs of two types (JEM gives a job one).

    >>> parse_gres("gpu:a100:2,nvme:1")
    GresRequest(gpus=2, gpu_type='a100', others=(('nvme', 1),))
    >>> parse_gres("nvme")
    GresRequest(gpus=0, gpu_type='', others=(('nvme', 1),))
    """
    gpus, types, others = 0, set(), {}
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
            types.add(kind or "")
        else:
            others[name] = others.get(name, 0) + n
    if len(types) > 1:
        raise ValueError(f"{text!r}: GPUs of one type per job ({', '.join(sorted(t or 'untyped' for t in types))})")
    # (zero GPUs of a type ask for nothing: the type would only keep the job off other nodes)
    gpu_type = types.pop() if types and gpus else ""
    return GresRequest(gpus, gpu_type, tuple(sorted(others.items())))


def parse_gpus(text: str) -> GresRequest:
    """The request of sbatch's `--gpus`/`--gpus-per-node` value, `[type:]count[,...]`: the same
    list as --gres with the `gpu:` of each item left out.

    >>> parse_gpus("a100:2")
    GresRequest(gpus=2, gpu_type='a100', others=())
    """
    return parse_gres(",".join("gpu:" + item.strip() for item in text.split(",")))


def check_gpu_type(gpu_type: str) -> str:
    """`gpu_type` when it is a GPU type name (Slurm's Type= charset, not all digits); else ValueError."""
    if not re.fullmatch(_TYPE, gpu_type) or gpu_type.isdigit():
        raise ValueError(f"{gpu_type!r} is not a GPU type (letters, digits and _.+-, not digits only)")
    return gpu_type


def gpu_feature(gpu_type: str) -> str:
    """The feature a node with GPUs of `gpu_type` implicitly offers: `gpu:a100`."""
    return GPU_FEATURE_PREFIX + gpu_type


def node_features(features: tuple[str, ...], gpu_type: str) -> tuple[str, ...]:
    """A node's features with the one its GPU type implies (none for untyped GPUs).

    >>> node_features(("ib",), "a100")
    ('ib', 'gpu:a100')
    """
    implied = gpu_feature(gpu_type) if gpu_type else ""
    return features + (implied,) if implied and implied not in features else features


def typed_constraint(constraint: str, gpu_type: str) -> str:
    """A job's constraint (jem.model.features syntax) with the feature its GPU type implies
    required too. InvalidFeature for a constraint of alternatives (`a|b`): "one of a, b, and
    the type" is not a constraint JEM's syntax (nor the kernel's all-of/one-of masks as
    written from it) can hold, so such a job is refused at submit.

    >>> typed_constraint("ib", "a100")
    'ib&gpu:a100'
    >>> typed_constraint("", "")
    ''
    """
    if not gpu_type:
        return constraint
    if "|" in constraint:
        raise InvalidFeature(f"{constraint!r}: alternatives (a|b) cannot be combined with a GPU type "
                             f"({gpu_type}); use a&b, or an untyped GPU request")
    implied = gpu_feature(gpu_type)
    return f"{constraint.strip()}&{implied}" if constraint.strip() else implied
