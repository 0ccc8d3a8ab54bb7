"""Reference for jem.scheduler.limits: which association and QOS limits a job would break by
starting now, found by plain loops over every running job (no holders, no counters kept).

Slurm's precedence, written out: the partition QOS, then the job's QOS (swapped when the
job's QOS has OverPartQOS), then the associations. A limit (per TRES) a QOS sets is not
looked up after it. Max* limits of associations come from the nearest association up the
tree that sets them and count the user's jobs in the job's account; Grp* limits hold at
every association up to root and count every job under it.
"""

from jem.model.associations import QosFlag
from jem.model.reasons import limit_reason

FIELDS = ("grp_tres", "grp_tres_run_mins", "grp_jobs", "max_tres_per_job", "max_tres_per_user", "max_jobs",
          "max_wall_s")


def _minutes(job) -> int:
    return (1 << 40) if job.time_limit_s is None else -(-job.time_limit_s // 60)


def _limit_items(limits, field):
    value = getattr(limits, field)
    if value is None:
        return []
    if isinstance(value, int):
        return [("", value)]
    return list(value.items())


def _under(table, account: str, ancestor: str) -> bool:
    """Whether `account` is `ancestor` or below it (an account accounting lacks is under root only)."""
    names = [a.account for a in table.chain(account) if not a.is_user]
    return ancestor in names


def _broken(field, tres, limit, job, members, run_left) -> bool:
    if field == "max_wall_s":
        return job.time_limit_s is None or job.time_limit_s > limit
    if field == "max_tres_per_job":
        return job.tres.get(tres, 0) > limit
    if field in ("grp_jobs", "max_jobs"):
        return len(members) + 1 > limit
    asked = job.tres.get(tres, 0)
    if not asked:
        return False
    if field == "grp_tres_run_mins":
        held = sum(r.tres.get(tres, 0) * run_left[id(r)] for r in members)
        return held + asked * _minutes(job) > limit
    return sum(r.tres.get(tres, 0) for r in members) + asked > limit


def broken_limits(table, running: list, job, run_left: dict) -> set:
    """The reasons of every limit `job` would break (`running`: LimitedJobs; `run_left`: id(job) ->
    its minutes still to run)."""
    broken, set_by_qos = set(), set()
    names = [q for q in (job.partition_qos, job.qos) if q in table.qos]
    if len(names) == 2 and QosFlag.OVER_PART_QOS in table.qos[job.qos].flags:
        names.reverse()
    if len(names) == 2 and names[0] == names[1]:
        names = names[:1]
    for name in names:
        limits = table.qos[name].limits
        in_qos = [r for r in running if name in (r.qos, r.partition_qos)]
        for field in FIELDS:
            for tres, limit in _limit_items(limits, field):
                if (field, tres) in set_by_qos:
                    continue
                set_by_qos.add((field, tres))
                members = in_qos if field.startswith("grp_") else [r for r in in_qos if r.user == job.user]
                if _broken(field, tres, limit, job, members, run_left):
                    broken.add(limit_reason(is_qos=True, field=field, tres=tres))
    chain = table.chain(job.account, job.user)
    own = [r for r in running if r.user == job.user and r.account == job.account]
    for field in ("max_tres_per_job", "max_jobs", "max_wall_s"):
        found = {}
        for assoc in reversed(chain):   # root first: nearer ones override
            for tres, limit in _limit_items(assoc.limits, field):
                found[tres] = limit
        for tres, limit in found.items():
            if (field, tres) not in set_by_qos and _broken(field, tres, limit, job, own, run_left):
                broken.add(limit_reason(is_qos=False, field=field, tres=tres))
    for assoc in chain:
        if assoc.is_user:
            members = own
        else:
            members = [r for r in running if _under(table, r.account, assoc.account)]
        for field in ("grp_tres", "grp_tres_run_mins", "grp_jobs"):
            for tres, limit in _limit_items(assoc.limits, field):
                if (field, tres) not in set_by_qos and _broken(field, tres, limit, job, members, run_left):
                    broken.add(limit_reason(is_qos=False, field=field, tres=tres))
    return broken
