"""Users' signatures over jobs and steps: what `check_signature` and `check_work` accept."""

import pytest

from jem.model.errors import BadUserSignature
from jem.model.job import JobSpec
from jem.security import tokens
from jem.security.digest import spec_digest
from jem.security.keys import PublicKeySet, generate_signing_key
from jem.security.signatures import UnsignedWork, check_signature, check_work


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
