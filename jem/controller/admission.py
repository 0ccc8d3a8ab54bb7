"""Whether site policy admits a job at submit: its account and QOS, its partition's access
lists, and the association and QOS limits a submission is checked against (Slurm's
acct_policy_validate with AccountingStorageEnforce from [accounting] enforce).

- The account is the job's, else its user's default account. With `associations`
  enforced, or `limits` or `qos` once any user has an association (Slurm's `limits`
  and `qos` imply `associations`), the user must have an association with it; an
  account accounting does not know is refused once any is defined (InvalidAccount).
- The QOS is the job's, else the association's default; it must exist, and with `qos`
  enforced be one the association may use (InvalidQos otherwise).
- A partition's AllowAccounts and AllowQos refuse others' jobs (InvalidAccount,
  InvalidQos), its AllowGroups users in none of them (root excepted).
- With `limits` enforced: the submit counts (GrpSubmitJobs, MaxSubmitJobs[PerUser]) are
  checked with the job's array tasks each counted; and when the job's partition QOS or
  QOS has DenyOnLimit, a job that breaks a per-job limit, or a group limit on its own,
  is refused rather than left pending. Every refusal is LimitExceeded carrying Slurm's
  reason name. Other limits are the scheduler's (jem.scheduler.limits).
"""

import dataclasses
import grp
import os

from jem.controller.jobindex import JobIndex
from jem.model.associations import ROOT, AccountingTable, QosFlag
from jem.model.config import Config
from jem.model.errors import (InvalidAccount, InvalidNodeCount, InvalidQos, LimitExceeded, PartitionAccessDenied,
                              PartitionTimeLimit)
from jem.model.identity import Identity
from jem.model.job import JobShape, JobSpec
from jem.model.partition import Partition
from jem.model.tres import job_tres
from jem.model.units import format_duration
from jem.scheduler.limits import LimitedJob, Rule, never_fits, rules_of


def resolve_account_and_qos(table: AccountingTable, config: Config, spec: JobSpec, identity: Identity,
                            partition: Partition) -> JobSpec:
    """`spec` with its account and QOS filled in and checked (see the module docstring)."""
    enforce = config.accounting
    user = identity.user
    account = spec.account or table.default_account(user)
    if requires_association(table, config) and table.association(account, user) is None:
        raise InvalidAccount(f"user {user} has no association with account {account or '(none)'}")
    if account and table.account(account) is None and not table.is_empty:
        raise InvalidAccount(f"no account named {account}")
    if not partition.allows_account(account):
        raise InvalidAccount(f"partition {partition.name} does not allow account {account or '(none)'}")
    qos = spec.qos or table.default_qos(account, user)
    if qos not in table.qos:
        raise InvalidQos(qos)
    if enforce.enforces("qos") and qos not in table.allowed_qos(account, user):
        raise InvalidQos(f"{qos} is not a QOS of user {user} in account {account or '(none)'}")
    if not partition.allows_qos(qos):
        raise InvalidQos(f"partition {partition.name} does not allow QOS {qos}")
    if partition.allow_groups and not identity.is_root and not _in_groups(identity, partition.allow_groups):
        raise PartitionAccessDenied(f"partition {partition.name} allows the groups {','.join(partition.allow_groups)}")
    return dataclasses.replace(spec, account=account, qos=qos)


def requires_association(table: AccountingTable, config: Config) -> bool:
    """Whether a job's user must have an association with its account: when `associations` is
    enforced, and (as Slurm's `limits` and `qos` imply it) when `limits` or `qos` is and some
    user has an association (else anyone may name any account, or none, and accounts' limits
    could be escaped by naming another)."""
    enforce = config.accounting
    if enforce.enforces("associations"):
        return True
    return (enforce.enforces("limits") or enforce.enforces("qos")) and bool(table.users)


def check_partition_time(partition: Partition, time_limit_s: int | None) -> None:
    """A job's time limit within its partition's MaxTime (Slurm's EnforcePartLimits=ALL refuses it)."""
    if not partition.allows_time_limit(time_limit_s):
        raise PartitionTimeLimit(f"{format_duration(time_limit_s)} exceeds partition {partition.name}'s "
                                 f"MaxTime of {format_duration(partition.max_time_s)}")


def check_partition_size(partition: Partition, shape: JobShape) -> None:
    if partition.max_nodes is not None and shape.n_nodes > partition.max_nodes:
        raise InvalidNodeCount(f"{shape.n_nodes} nodes requested; partition {partition.name} allows "
                               f"{partition.max_nodes} per job")


def limited_job(spec: JobSpec, user: str, shape: JobShape, time_limit_s: int | None, partition: Partition) -> LimitedJob:
    """What limits read of a job (its TRES totals over its nodes; a typed GPU request counts in
    both gres/gpu and gres/gpu:TYPE, as Slurm's)."""
    per_node = shape.per_node
    return LimitedJob(account=spec.account, user=user, qos=spec.qos, partition_qos=partition.qos,
                      tres=job_tres(cpus=per_node.cpus * shape.n_nodes, mem_mib=per_node.mem_mib * shape.n_nodes,
                                    n_nodes=shape.n_nodes, gpus=per_node.gpus, gpu_type=spec.gpu_type,
                                    gres=spec.gres_per_node),
                      time_limit_s=time_limit_s)


def check_submit_limits(table: AccountingTable, config: Config, job: LimitedJob, index: JobIndex, *,
                        n_tasks: int) -> None:
    """Refuse (LimitExceeded) a submission of `n_tasks` jobs over a submit count, or, under
    DenyOnLimit, over a limit no waiting would meet. Lock held (`index` is read)."""
    if not config.accounting.enforces("limits"):
        return
    rules = rules_of(job, table)
    is_strict = any(QosFlag.DENY_ON_LIMIT in table.qos[q].flags
                    for q in (job.partition_qos, job.qos) if q in table.qos)
    partition_qos = {p.name: p.qos for p in config.partitions}
    for rule in rules:
        if rule.kind == "submit":
            if _active_tasks(rule.holder, table, index, partition_qos) + n_tasks > rule.limit:
                raise _refusal(rule)
        elif is_strict and rule.kind != "jobs" and never_fits(job, rule):
            raise _refusal(rule)


def _refusal(rule: Rule) -> LimitExceeded:
    return LimitExceeded(f"{rule.reason.value}: limit {rule.limit}", limit_reason=rule.reason.value)


def _active_tasks(holder: tuple, table: AccountingTable, index: JobIndex, partition_qos: dict[str, str]) -> int:
    """Pending and running jobs (array tasks each) a submit-count holder has."""
    kind = holder[0]
    if kind == "user":
        _, account, user = holder
        return sum(n for key in index.active_keys_of_user.get(user, ()) if key[0] == account
                   for n in (index.active_tasks_by_key[key],))
    if kind == "account":
        if holder[1] == ROOT:
            return sum(index.active_tasks_by_account.values())
        return sum(index.active_tasks_by_account.get(name, 0) for name in table.subtree_accounts(holder[1]))
    if kind == "qos":
        qos = holder[1]
        return sum(n for (q, p), n in index.active_tasks_by_qos_partition.items()
                   if q == qos or partition_qos.get(p) == qos)
    _, qos, user = holder
    return sum(index.active_tasks_by_key[key] for key in index.active_keys_of_user.get(user, ())
               if key[2] == qos or partition_qos.get(key[3]) == qos)


def _in_groups(identity: Identity, groups: tuple[str, ...]) -> bool:
    """Whether the user is a member of one of `groups` (by their primary or a supplementary group)."""
    gids = {identity.gid, *identity.groups}
    try:
        gids.update(os.getgrouplist(identity.user, identity.gid))
    except (KeyError, OSError):
        pass
    for gid in gids:
        try:
            if grp.getgrgid(gid).gr_name in groups:
                return True
        except KeyError:
            continue
    return False
