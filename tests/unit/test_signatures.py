"""Users' signatures over jobs and steps: what `check_signature` and `check_work` accept, and the
scrontab entries' own kind (jem-cron): its lifetime, its digest, and the agent keeping the two kinds apart."""

import dataclasses
import os

import pytest

from jem.agent.trust import ControllerTrust
from jem.model.errors import BadUserSignature
from jem.model.execution import Launch
from jem.model.job import JobSpec
from jem.model.resources import Resources
from jem.security import tokens
from jem.security.authd import AuthdPolicy, CredentialService, fetch_tokens
from jem.security.digest import job_digest, spec_digest
from jem.security.keys import PublicKeySet, generate_signing_key
from jem.security.signatures import SignatureTerms, UnsignedWork, check_signature, check_work, signature_terms


@pytest.fixture
def signer(tmp_path):
    key = generate_signing_key(str(tmp_path / "authd.key"), public_dir=str(tmp_path / "authd-keys"))
    return key, PublicKeySet(str(tmp_path / "authd-keys"))


def _sign(key, *, uid=1001, gid=1001, digest, audience=tokens.AUD_JOB, lifetime_s=60.0, now=None):
    return tokens.sign_claims(key, {"uid": uid, "gid": gid, "host": "login1", "dig": digest}, audience=audience,
                              lifetime_s=lifetime_s, now=now)


SPEC = JobSpec(script="#!/bin/sh\nhostname\n", working_dir="/home/alice", environment={"PATH": "/usr/bin"})


def test_the_users_signature_over_this_job_verifies(signer):
    key, keys = signer
    check_signature(_sign(key, digest=spec_digest(SPEC)), keys, audience=tokens.AUD_JOB, uid=1001, gid=1001,
                    digest=spec_digest(SPEC))


@pytest.mark.parametrize("change", ["uid", "gid", "digest", "audience", "expired", "foreign key", "garbage"])
def test_a_signature_for_anything_else_is_refused(signer, tmp_path, change):
    key, keys = signer
    digest = spec_digest(SPEC)
    other = generate_signing_key(str(tmp_path / "other.key"))
    signature = {
        "uid": lambda: _sign(key, uid=0, digest=digest),
        "gid": lambda: _sign(key, gid=0, digest=digest),
        "digest": lambda: _sign(key, digest=spec_digest(JobSpec(script="#!/bin/sh\nrm -rf ~\n",
                                                                working_dir="/home/alice"))),
        "audience": lambda: _sign(key, digest=digest, audience=tokens.AUD_STEP),
        "expired": lambda: _sign(key, digest=digest, lifetime_s=10, now=1_000_000.0),
        "foreign key": lambda: _sign(other, digest=digest),
        "garbage": lambda: "not.a.token",
    }[change]()
    with pytest.raises(BadUserSignature):
        check_signature(signature, keys, audience=tokens.AUD_JOB, uid=1001, gid=1001, digest=digest)


def test_unsigned_work_runs_only_where_the_agent_allows_it(signer):
    _, keys = signer
    args = dict(audience=tokens.AUD_JOB, uid=1001, gid=1001, digest=spec_digest(SPEC), what="job 7")
    check_work("", keys, unsigned=UnsignedWork.ALLOW, **args)
    with pytest.raises(BadUserSignature, match="job 7 carries no signature of its user"):
        check_work("", keys, unsigned=UnsignedWork.REFUSE, **args)
    with pytest.raises(BadUserSignature):   # a bad signature is refused even where unsigned work is allowed
        check_work("forged", keys, unsigned=UnsignedWork.ALLOW, **args)


def test_the_digest_counts_an_empty_working_dir_as_the_controllers_default():
    assert spec_digest(JobSpec(script="#!/bin/sh\n")) == spec_digest(JobSpec(script="#!/bin/sh\n", working_dir="/tmp"))
    assert spec_digest(JobSpec(script="#!/bin/sh\n")) != spec_digest(JobSpec(script="#!/bin/sh\n", working_dir="/"))


# ---------------------------------------------------------------- scrontab entries (jem-cron)

CRON_SPEC = dataclasses.replace(SPEC, cron_schedule="* * * * *", begin_time=1_000_020.0)


def test_the_credential_service_signs_a_scrontab_entry_for_the_cron_lifetime_and_a_job_for_the_job_one(signer,
                                                                                                        tmp_path):
    key, keys = signer
    policy = AuthdPolicy(job_signature_lifetime_s=600.0, cron_signature_lifetime_s=7200.0)
    service = CredentialService(key, str(tmp_path / "run" / "authd.sock"), policy=policy).start()
    try:
        cron, job = fetch_tokens(service.socket_path, [(tokens.AUD_CRON, spec_digest(CRON_SPEC)),
                                                       (tokens.AUD_JOB, spec_digest(SPEC))])
    finally:
        service.stop()
    cron_claims = tokens.verify_claims(cron, keys, audience=tokens.AUD_CRON)
    job_claims = tokens.verify_claims(job, keys, audience=tokens.AUD_JOB)
    assert cron_claims["exp"] - cron_claims["iat"] == 7200 and job_claims["exp"] - job_claims["iat"] == 600
    assert (cron_claims["uid"], cron_claims["gid"], cron_claims["dig"]) == (os.getuid(), os.getgid(),
                                                                            spec_digest(CRON_SPEC))
    assert signature_terms(cron) == SignatureTerms(tokens.AUD_CRON, float(cron_claims["exp"]))


def test_a_jobs_digest_covers_its_schedule_and_not_its_begin_time():
    assert spec_digest(CRON_SPEC) != spec_digest(SPEC)   # (a cron signature is over other work than a one-off job's)
    assert spec_digest(CRON_SPEC) != spec_digest(dataclasses.replace(CRON_SPEC, cron_schedule="0 * * * *"))
    assert spec_digest(CRON_SPEC) == spec_digest(dataclasses.replace(CRON_SPEC, begin_time=1_000_080.0))
    assert spec_digest(SPEC) == job_digest(   # (a job without a schedule keeps the digest it always had)
        script=SPEC.script, script_args=(), environment=SPEC.environment, working_dir=SPEC.working_dir,
        stdin_path="", stdout_pattern="", stderr_pattern="")


@pytest.fixture
def agent_trust(signer, tmp_path):
    _, user_keys = signer
    os.mkdir(tmp_path / "ctl-keys")   # (none: users' signatures are what is checked here, not the controller's)
    launch_log = tokens.PersistentReplayLog(str(tmp_path / "launches.log"))
    yield ControllerTrust(PublicKeySet(str(tmp_path / "ctl-keys")), user_keys=user_keys, unsigned=UnsignedWork.REFUSE,
                          node_name="n1", launch_log=launch_log, journal_dir=str(tmp_path))
    launch_log.close()


def _launch(spec: JobSpec, signature: str, *, restart_count: int = 0) -> Launch:
    return Launch(job_id=7, spec=spec, user="alice", uid=1001, gid=1001, nodes=("n1",), alloc=Resources(1, 100, 0),
                  n_tasks=1, time_limit_s=60, kill_wait_s=5, submit_dir="/home/alice", cluster_name="c",
                  restart_count=restart_count, user_signature=signature)


def test_the_agent_starts_every_run_of_a_scrontab_entry_its_cron_signature_covers(signer, agent_trust):
    key, _ = signer
    signature = _sign(key, digest=spec_digest(CRON_SPEC), audience=tokens.AUD_CRON)
    agent_trust.check_launch_signature(_launch(CRON_SPEC, signature))
    recurrence = dataclasses.replace(CRON_SPEC, begin_time=CRON_SPEC.begin_time + 3600)   # (recur moves it)
    agent_trust.check_launch_signature(_launch(recurrence, signature, restart_count=60))


def test_a_cron_signature_never_starts_a_one_off_job_nor_a_job_signature_a_scrontab_entry(signer, agent_trust):
    key, _ = signer
    attacks = [   # (each over exactly the digest of the spec launched: only its kind is wrong)
        _launch(SPEC, _sign(key, digest=spec_digest(SPEC), audience=tokens.AUD_CRON)),
        _launch(CRON_SPEC, _sign(key, digest=spec_digest(CRON_SPEC), audience=tokens.AUD_JOB)),
        # a scrontab entry's signature replayed for the same script without its schedule, or on another one
        _launch(SPEC, _sign(key, digest=spec_digest(CRON_SPEC), audience=tokens.AUD_CRON)),
        _launch(dataclasses.replace(CRON_SPEC, cron_schedule="0 0 1 1 *"),
                _sign(key, digest=spec_digest(CRON_SPEC), audience=tokens.AUD_CRON)),
    ]
    for launch in attacks:
        with pytest.raises(BadUserSignature):
            agent_trust.check_launch_signature(launch)


def test_an_unreadable_signature_has_no_terms():
    with pytest.raises(BadUserSignature):
        signature_terms("not.a.token")
