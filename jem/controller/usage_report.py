"""Usage reports (sreport): totals of a period's CPU time, read from the store.

Accounting reads never hold up scheduling: the controller's lock is taken only to
count the nodes' CPUs; the jobs and their events come from the store's own read
(`Store.job_activity`, a connection of its own in WAL mode), a job at a time, and
are totalled by jem.model.utilization without any lock. The cluster's Down time comes
from the nodes' events in the store (`Store.node_events`: drains and DOWNs, few rows).

Privacy (Slurm's PrivateData=usage): a caller who is not an operator gets only their
own user rows; the cluster's totals are everyone's, as in Slurm.
"""

from jem.controller.state import ClusterState
from jem.model.errors import InvalidArgument, ParameterTooLong
from jem.model.identity import Identity
from jem.model.limits import check_text, clamp_epoch
from jem.model.utilization import (ClusterUsage, ReportKind, UsageReport, account_tree_rows, cluster_usage,
                                   counted_s, used_by_association, user_rows)


def usage_report(state: ClusterState, identity: Identity, *, kind: ReportKind, start: float, end: float,
                 accounts: frozenset[str] = frozenset(), users: frozenset[str] = frozenset(),
                 now: float) -> UsageReport:
    """The report of `kind` over [start, end), counted up to `now`. InvalidArgument when the
    period does not end after it starts; ParameterTooLong for filters over the cluster's limits."""
    start, end = clamp_epoch(start), clamp_epoch(end)
    if end <= start:
        raise InvalidArgument(f"the period must end after it starts ({start:.0f} - {end:.0f})")
    _check_names(state, "accounts", accounts)
    _check_names(state, "users", users)
    with state.lock:
        n_cpus = sum(node.capacity.cpus for node in state.nodes.all())
    reported = n_cpus * counted_s(start=start, end=end, now=now)
    if kind is ReportKind.CLUSTER:
        totals = cluster_usage(state.store.job_activity(start=start, end=end), n_cpus=n_cpus, start=start, end=end,
                               now=now, node_events=state.store.node_events(start=start, end=end))
        return UsageReport(start, end, totals)
    if state.config.cluster.is_private("usage") and not identity.is_operator:
        if users and identity.user not in users:
            return UsageReport(start, end, ClusterUsage(n_cpus=n_cpus, reported_cpu_s=reported))
        users = frozenset({identity.user})
    used = used_by_association(state.store.job_activity(start=start, end=end, users=users), start=start, end=end,
                               now=now)
    parents = {a.account: a.parent for a in state.accounting_table.associations.values() if not a.is_user}
    if kind is ReportKind.ACCOUNT_TREE:
        rows = account_tree_rows(used, parents=parents, accounts=accounts)
        if users:   # the accounts' rows would sum other users' usage too: the users' own rows only
            rows = [row for row in rows if row.user]
    else:
        rows = user_rows(used, parents=parents, accounts=accounts)
    allocated = sum(row.cpu_s for row in rows if row.user)
    return UsageReport(start, end, ClusterUsage(n_cpus=n_cpus, reported_cpu_s=reported, allocated_cpu_s=allocated),
                       tuple(rows))


def _check_names(state: ClusterState, field: str, names: frozenset[str]) -> None:
    limits = state.config.limits
    if len(names) > limits.max_args:
        raise ParameterTooLong(f"{field}: {len(names)} values, more than the cluster's limit of {limits.max_args}")
    for name in names:
        check_text(field, name, limits.max_name_len)
