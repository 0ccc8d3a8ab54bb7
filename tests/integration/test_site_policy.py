"""Site policy on a real controller and agents: association and QOS limits pend jobs with Slurm's
reasons or refuse them at submit, and a limit changed over AdminService applies at once."""

import json
import os
import subprocess
import sys
import time

import pytest

from harness import cancel_and_wait, wait_until
from jem.model.accounting import AssociationChange, QosChange
from jem.model.associations import Association, AssociationFilter
from jem.model.errors import (AccountingEntityInUse, InvalidAccount, InvalidNodeCount, InvalidQos, InvalidReservation,
                              InvalidSetting, JobNotFound, LimitExceeded, PermissionDenied)
from jem.model.reservation import Reservation
from jem.model.reasons import JobReason
from jem.model.states import JobState
from jem.model.tres import Tres

pytestmark = pytest.mark.integration



SLEEP = "#!/bin/sh\nsleep 120\n"
POLICY = """
[[qos]]
name = "high"
priority = 10
max_jobs_per_user = 1

[[qos]]
name = "strict"
flags = ["DenyOnLimit"]
max_wall = "10:00"
max_tres_per_job = "cpu=2"

[[accounts]]
name = "root"
qos = ["normal", "high", "strict"]

[[accounts]]
name = "physics"
grp_tres = "cpu=2"

[[accounts]]
name = "theory"
parent = "physics"

[[accounts]]
name = "chem"
max_submit_jobs = 2
max_wall = "30:00"

[[accounts]]
name = "bio"
grp_tres_run_mins = "cpu=30"

[[partitions]]
name = "small"
max_nodes = 1
allow_accounts = ["chem"]
"""


def test_limits_pend_with_slurms_reasons_and_refuse_at_submit(make_cluster):
    cluster = make_cluster(n_nodes=2, cpus=4, extra_config=POLICY).start()
    with cluster.client() as client:
        def spec(**fields):
            return cluster.spec(SLEEP, n_tasks=1, time_limit_s=600, **fields)

        # GrpTRES=cpu=2 on physics holds its sub-account's jobs too.
        physics = [client.submit(spec(account=a)) for a in ("physics", "theory", "theory")]
        for job_id in physics[:2]:
            cluster.wait_job(client, job_id, states={JobState.RUNNING})
        wait_until(lambda: client.get_job(physics[2]).reason is JobReason.ASSOC_GRP_CPU_LIMIT,
                   what="the third physics job held by its account's GrpTRES")
        # Beyond Slurm: it has an estimate, when the first of physics' jobs ends by its time limit.
        first_end = min(client.get_job(j).start_time + 600 for j in physics[:2])
        held = client.get_job(physics[2])
        assert held.planned_start_is_estimate and int(held.planned_start) == int(first_end)
        # GrpTRESRunMins=cpu=30 on bio: a 1-CPU job of 20 minutes holds 20 CPU-minutes, a second
        # would add 20. It waits with Slurm's reason and a forecast: once the first has 10
        # minutes left (the planner does not hold this limit: what a job holds of it falls as it runs).
        bio = [client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=1200, account="bio")) for _ in range(2)]
        cluster.wait_job(client, bio[0], states={JobState.RUNNING})
        wait_until(lambda: client.get_job(bio[1]).reason is JobReason.ASSOC_GRP_CPU_RUN_MINUTES_LIMIT
                   and client.get_job(bio[1]).planned_start is not None,
                   what="the second bio job held by GrpTRESRunMins, with a forecast")
        held = client.get_job(bio[1])
        assert held.planned_start_is_forecast and held.planned_start_is_estimate
        assert abs(held.planned_start - (client.get_job(bio[0]).start_time + 600)) <= 60
        # A QOS's MaxJobsPerUser.
        high = [client.submit(spec(qos="high")) for _ in range(2)]
        cluster.wait_job(client, high[0], states={JobState.RUNNING})
        wait_until(lambda: client.get_job(high[1]).reason is JobReason.QOS_MAX_JOBS_PER_USER_LIMIT,
                   what="the second high job held by MaxJobsPerUser")
        # An association's MaxWall pends (no DenyOnLimit): Slurm's AssocMaxWallDurationPerJobLimit.
        long_chem = client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=3600, account="chem"))
        wait_until(lambda: client.get_job(long_chem).reason is JobReason.ASSOC_MAX_WALL_DURATION_PER_JOB_LIMIT,
                   what="the long chem job held by MaxWall")
        # A job without a time limit gets its association's MaxWall (shorter than the partition's).
        assert client.get_job(client.submit(cluster.spec(SLEEP, n_tasks=1, account="chem", hold=True))) \
            .time_limit_s == 1800
        # MaxSubmitJobs refuses the third job of chem at submit, naming the limit.
        with pytest.raises(LimitExceeded) as refused:
            client.submit(spec(account="chem"))
        assert refused.value.limit_reason == "AssocMaxSubmitJobLimit"
        # DenyOnLimit refuses what would pend: a time or a size over the QOS's.
        with pytest.raises(LimitExceeded) as too_long:
            client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=1200, qos="strict"))
        assert too_long.value.limit_reason == "QOSMaxWallDurationPerJobLimit"
        with pytest.raises(LimitExceeded) as too_big:
            client.submit(cluster.spec(SLEEP, n_tasks=3, time_limit_s=60, qos="strict"))
        assert too_big.value.limit_reason == "QOSMaxCpuPerJobLimit"
        # Partition policy: AllowAccounts and MaxNodes refuse at submit.
        with pytest.raises(InvalidAccount):
            client.submit(spec(partition="small", account="physics"))
        with pytest.raises(InvalidNodeCount):
            client.submit(cluster.spec(SLEEP, n_nodes=2, time_limit_s=60, partition="small", account="chem"))
        with pytest.raises(InvalidQos):
            client.submit(spec(qos="nonesuch"))
        # A limit raised over AdminService applies without a restart: the held job starts.
        client.modify_associations(AssociationFilter(accounts=frozenset({"physics"}), only_accounts=True),
                                   AssociationChange(limits={"grp_tres": Tres(cpu=3)}))
        cluster.wait_job(client, physics[2], states={JobState.RUNNING})
        # An account with active jobs cannot be deleted.
        with pytest.raises(AccountingEntityInUse):
            client.delete_associations(AssociationFilter(accounts=frozenset({"chem"})))
        cancel_and_wait(cluster, client, [job.job_id for job in client.list_jobs()
                                          if job.state in (JobState.PENDING, JobState.RUNNING)])


def test_only_operators_change_accounting_and_associations_are_enforced(make_cluster, stranger):
    config = POLICY + '\n[accounting]\nenforce = ["associations", "limits", "qos"]\n'
    cluster = make_cluster(n_nodes=1, cpus=2, extra_config=config).start()
    user = stranger
    with cluster.client() as admin, cluster.client_as(user) as client:
        with pytest.raises(PermissionDenied):
            client.add_accounts([Association("mine")])
        with pytest.raises(InvalidAccount):   # no association yet
            client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=60))
        admin.add_users([Association("chem", user)])
        job_id = client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=60))
        assert client.get_job(job_id).spec.account == "chem"   # the user's default account
        admin.modify_associations(AssociationFilter(accounts=frozenset({"chem"}), users=frozenset({user})),
                                  AssociationChange(qos=("normal", "high")))
        with pytest.raises(InvalidQos):   # no longer among the QOS of the user's association
            client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=60, qos="strict"))
        cancel_and_wait(cluster, client, [job_id])


def test_jem_why_names_the_limit_the_jobs_holding_it_and_the_estimate(make_cluster):
    cluster = make_cluster(n_nodes=1, cpus=4, extra_config=POLICY).start()
    env = dict(os.environ, JEM_CONFIG=os.path.join(cluster.run_dir, "client.toml"))
    with cluster.client() as client:
        running = [client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=600, account="physics"))
                   for _ in range(2)]
        for job_id in running:
            cluster.wait_job(client, job_id, states={JobState.RUNNING})
        held = client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=600, account="physics"))
        wait_until(lambda: client.get_job(held).planned_start is not None, what="the held job's estimate")
        explanation = client.explain_job(held)
        text = subprocess.run([sys.executable, "-m", "jem.cli.main", "why", str(held)], capture_output=True,
                              text=True, env=env, timeout=60)
        as_json = json.loads(subprocess.run([sys.executable, "-m", "jem.cli.main", "why", str(held), "--json"],
                                            capture_output=True, text=True, env=env, timeout=60).stdout)
        ends = sorted(client.get_job(j).start_time + 600 for j in running)
        cancel_and_wait(cluster, client, [*running, held])
    assert explanation.reason == "AssocGrpCpuLimit" and explanation.planned_start_is_estimate
    assert explanation.limit.setting == "GrpTRES=cpu=2" and explanation.limit.holder == "account physics"
    assert explanation.limit.in_use == 2 and explanation.limit.asked == 1
    assert [h.job_id for h in explanation.limit.holders] == sorted(running, key=lambda j: j)
    assert int(explanation.planned_start) == int(ends[0])
    assert [a.job_id for a in explanation.after] and explanation.after[0].job_id in running
    assert text.returncode == 0, text.stderr
    assert "Held by the limit GrpTRES=cpu=2 of account physics" in text.stdout and "(an estimate)" in text.stdout
    assert as_json["planned_start_kind"] == "estimate" and as_json["limit"]["in_use"] == 2


def test_a_job_moved_to_another_partition_is_held_to_its_policy_as_at_submit(make_cluster, stranger):
    cluster = make_cluster(n_nodes=2, cpus=2, extra_config=POLICY + '\n[[partitions]]\nname = "open"\nmax_nodes = 1\n')
    cluster.start()
    with cluster.client() as admin, cluster.client_as(stranger) as client:
        admin.add_users([Association("physics", stranger), Association("chem", stranger)])
        job_id = client.submit(cluster.spec(SLEEP, n_tasks=2, time_limit_s=60, account="physics", hold=True))
        with pytest.raises(InvalidAccount):   # (small allows chem only)
            client.update(job_id, partition="small")
        with pytest.raises(InvalidNodeCount):
            client.update(job_id, partition="open", n_nodes=2)
        with pytest.raises(InvalidAccount):   # (an account accounting does not know)
            client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=60, account="nosuch"))
        with pytest.raises(InvalidAccount):   # (users have associations now: only their own accounts)
            admin.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=60, account="physics"))
        client.cancel(job_id)


def test_a_config_that_lists_qos_lets_everyone_use_them_as_before(make_cluster):
    cluster = make_cluster(n_nodes=1, cpus=2, extra_config='[[qos]]\nname = "high"\npriority = 10\n').start()
    with cluster.client() as client:
        job_id = client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=60, qos="high", hold=True))
        assert client.get_job(job_id).spec.qos == "high"
        [root] = [a for a in client.list_associations()[0] if a.account == "root"]
        client.cancel(job_id)
    assert root.qos == ("normal", "high")


def test_what_others_may_not_see_or_change_stays_theirs(make_cluster, stranger, operator_user):
    """PrivateData=jobs,accounts: a user's `jem why` names none of others' jobs and their listing of
    associations holds only their own accounts; an Operator may not change a QOS (that is an
    Administrator's); oversize or odd names are refused, not stored."""
    cluster = make_cluster(n_nodes=1, cpus=2, extra_config=POLICY)
    with open(cluster.config_path) as f:
        text = f.read()
    text = text.replace('name = "test"\n', 'name = "test"\nprivate_data = ["jobs", "accounts"]\n', 1)
    with open(cluster.config_path, "w") as f:
        f.write(text + f'\n[[users]]\nname = "{operator_user}"\nadmin_level = "operator"\n')
    cluster.start()
    with cluster.client() as admin, cluster.client_as(stranger) as client, \
            cluster.client_as(operator_user) as operator:
        admin.add_users([Association("chem", stranger), Association("physics", "root")])
        roots = admin.submit(cluster.spec(SLEEP, n_tasks=2, time_limit_s=300, account="physics"))
        cluster.wait_job(admin, roots, states={JobState.RUNNING})
        theirs = client.submit(cluster.spec(SLEEP, n_tasks=1, time_limit_s=60, account="chem"))
        wait_until(lambda: client.get_job(theirs).planned_start is not None, what="the stranger's plan")
        with pytest.raises(JobNotFound):
            client.explain_job(roots)
        said = client.explain_job(theirs)
        listed = {a.account for a in client.list_associations()[0]}
        with pytest.raises(PermissionDenied):
            operator.modify_qos(["high"], QosChange(priority=1000))
        operator.modify_associations(AssociationFilter(accounts=frozenset({"chem"}), only_accounts=True),
                                     AssociationChange(limits={"max_jobs": 3}))   # (accounts are an operator's)
        with pytest.raises(InvalidSetting):
            admin.add_accounts([Association("a" * 2000)])
        with pytest.raises(InvalidReservation):
            admin.create_reservation(Reservation("x" * 2000, time.time() + 60, time.time() + 120, ("n1",),
                                                 users=("root",)))
        cancel_and_wait(cluster, admin, [roots, theirs])
    assert said.after == () and said.planned_start is not None   # (root's job it waits for is not named)
    assert listed == {"chem"}
