"""Fair-share: an account tree with shares, decayed usage, and each user's factor.

The tree is root -> accounts (any depth, by `parent`) -> users. Shares are
whole numbers; a user not configured has 1 share in its account, an account
not configured 1 share under root. Usage is CPU-seconds, decayed with a
half-life: u(t + dt) = u(t) * 2 ** (-dt / half_life_s). Factors are floats in
[0, 1] (the only floats of the scheduling core; never used for resources).

Two algorithms, as Slurm defines them:

- Fair Tree (default): at each level a child's Level Fairshare is
  LF = (shares / siblings' shares) / (usage / siblings' usage), infinite
  without usage. Children are visited depth first in LF-descending order
  (ties by name) and users are ranked in visiting order; users of one account
  with equal LF share a rank. factor = rank / n_users, so the first user
  visited has 1.0. Worked example: accounts A (70 shares, 60% of the usage)
  and B (30 shares, 40%): LF(A) = 0.7 / 0.6 = 1.17, LF(B) = 0.3 / 0.4 = 0.75,
  so A's users rank above B's; with one user each, A's gets 2/2 = 1.0, B's 1/2.
- Classic: F = 2 ** (-UE / S), S = the product of the share fractions down the
  path, UE = UA + (UE_parent - UA) * (shares / siblings' shares), UA = the
  association's usage / all usage, UE_root = 1 (0 when nothing was used).
"""

import math
from dataclasses import dataclass, field

import numpy as np

from jem._core.fairtree import fair_tree_factors
from jem.model.config import AccountConfig
from jem.model.shares import ShareRow

DEFAULT_ACCOUNT = "default"   # the account of a job that names none
ROOT = "root"

@dataclass(slots=True)
class Usage:
    """Decayed CPU-seconds per (account, user); charged by the owner, decayed on advance."""

    half_life_s: int
    t_last: int | None = None
    by_user: dict[tuple[str, str], float] = field(default_factory=dict)

    def advance(self, now: int, running: list[tuple[str, str, int, int, int | None]]) -> None:
        """Decay to `now`, then charge each (account, user, cpus, start, end or None if still
        running) for the time it ran since the last advance (the decay within that span is
        ignored: one cycle is short against any half-life)."""
        if self.t_last is None:
            self.t_last = now
        dt = now - self.t_last
        if dt > 0 and self.half_life_s > 0:
            decay = 2.0 ** (-dt / self.half_life_s)
            for key in self.by_user:
                self.by_user[key] *= decay
        for account, user, cpus, start, end in running:
            ran = (now if end is None else min(now, end)) - max(start, self.t_last)
            if ran > 0:
                key = (account or DEFAULT_ACCOUNT, user)
                self.by_user[key] = self.by_user.get(key, 0.0) + cpus * ran
        self.t_last = max(self.t_last, now)

    def as_dict(self) -> dict:
        """A JSON-ready copy (the controller keeps it in its state directory across restarts)."""
        return {"half_life_s": self.half_life_s, "t_last": self.t_last,
                "by_user": [[account, user, value] for (account, user), value in sorted(self.by_user.items())]}

    @classmethod
    def from_dict(cls, data: dict, *, half_life_s: int) -> "Usage":
        """The usage saved by `as_dict`, under the configured half-life. ValueError if malformed."""
        try:
            t_last = data["t_last"]
            by_user = {(str(a), str(u)): float(v) for a, u, v in data["by_user"]}
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"malformed fair-share usage: {exc!r}") from None
        return cls(half_life_s=half_life_s, t_last=None if t_last is None else int(t_last), by_user=by_user)


@dataclass(slots=True)
class _Node:
    name: str
    shares: int
    is_user: bool
    account: str
    children: list["_Node"] = field(default_factory=list)
    usage: float = 0.0


def _build_tree(accounts: tuple[AccountConfig, ...], usage: dict[tuple[str, str], float],
                users: set[tuple[str, str]]) -> _Node:
    root = _Node(ROOT, 1, False, ROOT)
    nodes = {ROOT: root}
    configured = {a.name: a for a in accounts}
    for account, _ in sorted(users | set(usage)):
        configured.setdefault(account, AccountConfig(account))
    pending = sorted(configured.values(), key=lambda a: a.name)
    while pending:
        progressed = [a for a in pending if a.parent in nodes or a.parent not in configured]
        if not progressed:
            raise ValueError(f"accounts: a cycle of parents among {[a.name for a in pending]}")
        for a in progressed:
            parent = nodes.get(a.parent, root)
            node = _Node(a.name, a.shares, False, a.name)
            parent.children.append(node)
            nodes[a.name] = node
        pending = [a for a in pending if a.name not in nodes]
    for account, user in sorted(users | set(usage)):
        leaf = _Node(user, 1, True, account, usage=usage.get((account, user), 0.0))
        nodes[account].children.append(leaf)
    _sum_usage(root)
    return root


def _sum_usage(node: _Node) -> float:
    if node.children:
        node.usage = sum(_sum_usage(c) for c in node.children)
    return node.usage


def _level_fs(node: _Node, siblings: list[_Node]) -> float:
    return _level_fs_of(node, sum(s.shares for s in siblings), sum(s.usage for s in siblings))


def _level_fs_of(node: _Node, total_shares: int, total_usage: float) -> float:
    """(shares / siblings' shares) / (usage / siblings' usage); inf without usage."""
    share = node.shares / total_shares if total_shares else 0.0
    if node.usage <= 0.0 or total_usage <= 0.0:
        return math.inf
    return share / (node.usage / total_usage)


class _FlatTree:
    """The tree as jem._core.fairtree takes it: nodes numbered breadth first (the root 0), so
    each node's children are consecutive; the users' usage is refreshed in place."""

    def __init__(self, root: _Node):
        nodes, first_child, i = [root], [], 0
        while i < len(nodes):
            first_child.append(len(nodes))
            nodes.extend(nodes[i].children)
            i += 1
        n = len(nodes)
        self.child_start = np.array(first_child + [n], dtype=np.intp) - 1   # positions in child_list
        self.child_list = np.arange(1, n, dtype=np.intp)
        self.shares = np.array([node.shares for node in nodes], dtype=np.int64)
        self.is_user = np.array([node.is_user for node in nodes], dtype=np.uint8)
        rank_of = {name: r for r, name in enumerate(sorted({node.name for node in nodes}))}
        self.name_rank = np.array([rank_of[node.name] for node in nodes], dtype=np.intp)
        self.user_idx = np.flatnonzero(self.is_user)
        self.user_keys = [(nodes[k].account, nodes[k].name) for k in self.user_idx.tolist()]
        self.usage = np.zeros(n, dtype=np.float64)
        self.usage[self.user_idx] = [nodes[k].usage for k in self.user_idx.tolist()]

    def factors(self) -> dict[tuple[str, str], float]:
        factor = fair_tree_factors(self.child_start, self.child_list, self.shares, self.is_user, self.name_rank,
                                   self.usage.copy())
        return dict(zip(self.user_keys, factor[self.user_idx].tolist()))


def fair_tree(root: _Node) -> dict[tuple[str, str], float]:
    """Fair Tree factor of every user leaf, keyed (account, user) (computed by jem._core.fairtree)."""
    return _FlatTree(root).factors()


def classic(root: _Node) -> dict[tuple[str, str], float]:
    """Classic factor 2 ** (-UE / S) of every user leaf, keyed (account, user)."""
    factors: dict[tuple[str, str], float] = {}
    total = root.usage

    def visit(node: _Node, norm_shares: float, effective: float) -> None:
        sibling_shares = sum(c.shares for c in node.children)
        for child in node.children:
            fraction = child.shares / sibling_shares if sibling_shares else 0.0
            actual = child.usage / total if total > 0 else 0.0
            child_effective = actual + (effective - actual) * fraction
            child_shares = norm_shares * fraction
            if child.is_user:
                factors[(child.account, child.name)] = (
                    0.0 if child_shares <= 0 else 2.0 ** (-child_effective / child_shares))
            else:
                visit(child, child_shares, child_effective)

    visit(root, 1.0, 1.0 if total > 0 else 0.0)
    return factors


ALGORITHMS = {"fair_tree": fair_tree, "classic": classic}


def user_factors(algorithm: str, accounts: tuple[AccountConfig, ...], usage: dict[tuple[str, str], float],
                 users: set[tuple[str, str]]) -> dict[tuple[str, str], float]:
    """Factor in [0, 1] of every (account, user) in `users` or `usage`."""
    return ALGORITHMS[algorithm](_build_tree(accounts, usage, users))


class FactorCache:
    """user_factors for a caller that asks every pass (the simulator): the tree is rebuilt
    only when the set of (account, user) pairs changes; otherwise only usage is refreshed."""

    def __init__(self, algorithm: str, accounts: tuple[AccountConfig, ...]):
        self.algorithm, self.accounts = algorithm, accounts
        self._keys: set[tuple[str, str]] = set()
        self._root: _Node | None = None
        self._leaves: list[_Node] = []
        self._flat: _FlatTree | None = None

    def factors(self, usage: dict[tuple[str, str], float], users: set[tuple[str, str]]) -> dict[tuple[str, str], float]:
        """The same as user_factors(algorithm, accounts, usage, users)."""
        keys = users | usage.keys()
        if self._root is None or keys != self._keys:
            self._keys = set(keys)
            self._root = _build_tree(self.accounts, {}, self._keys)
            self._leaves = [leaf for leaf in _walk(self._root) if leaf.is_user]
            self._flat = _FlatTree(self._root) if self.algorithm == "fair_tree" else None
        if self._flat is not None:     # the users' usage straight into the kernel's array
            self._flat.usage[self._flat.user_idx] = [usage.get(key, 0.0) for key in self._flat.user_keys]
            return self._flat.factors()
        for leaf in self._leaves:
            leaf.usage = usage.get((leaf.account, leaf.name), 0.0)
        _sum_usage(self._root)
        return ALGORITHMS[self.algorithm](self._root)


def _walk(node: _Node):
    yield node
    for child in node.children:
        yield from _walk(child)


def share_rows(algorithm: str, accounts: tuple[AccountConfig, ...], usage: dict[tuple[str, str], float],
               users: set[tuple[str, str]]) -> list[ShareRow]:
    """The tree as sshare lists it: depth first, accounts before their users, by name."""
    root = _build_tree(accounts, usage, users)
    factors = ALGORITHMS[algorithm](root)
    total = root.usage
    rows: list[ShareRow] = []

    def visit(node: _Node, depth: int, norm_shares: float, effective: float) -> None:
        sibling_shares = sum(c.shares for c in node.children)
        for child in sorted(node.children, key=lambda c: (c.is_user, c.name)):
            fraction = child.shares / sibling_shares if sibling_shares else 0.0
            actual = child.usage / total if total > 0 else 0.0
            child_effective = actual + (effective - actual) * fraction if algorithm == "classic" else actual
            rows.append(ShareRow(
                account=child.account, user=child.name if child.is_user else "", depth=depth,
                raw_shares=child.shares, norm_shares=norm_shares * fraction, raw_usage=child.usage,
                effective_usage=child_effective, level_fs=_level_fs(child, node.children),
                factor=factors.get((child.account, child.name), math.nan) if child.is_user else math.nan))
            if not child.is_user:
                visit(child, depth + 1, norm_shares * fraction, child_effective)

    visit(root, 0, 1.0, 1.0 if total > 0 else 0.0)
    return rows
