"""A controller trusting an external JWT issuer (a portal's identity provider) through a JWKS
file: its RS256 tokens act as the user in the configured claim, and every forgery is refused,
each beside the honest path."""

import base64
import hashlib
import hmac
import json
import os
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from harness import LocalCluster
from jem.model.jobfilter import JobFilter
from jem.model.errors import NotJobOwner, Unauthenticated

AUDIENCE = "portal.example"
CLAIM = "preferred_username"
ISSUER = "https://idp.example"


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(private_key, kid: str) -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    return dict(jwk, kid=kid, use="sig", alg="RS256")


def write_jwks(path: str, keys: list[dict]) -> None:
    with open(path + ".tmp", "w") as f:
        json.dump({"keys": keys}, f)
    os.replace(path + ".tmp", path)   # a new inode: the controller re-reads it


def mint(private_key, kid: str, *, user: str = "", algorithm: str = "RS256", **claims) -> str:
    now = int(time.time())
    body = {"aud": AUDIENCE, "iat": now, "exp": now + 300, "iss": ISSUER, CLAIM: user, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, private_key, algorithm=algorithm,
                      headers={"kid": kid})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def issuer(tmp_path_factory):
    root = tmp_path_factory.mktemp("jwks")
    key = rsa_key()
    path = str(root / "jwks.json")
    write_jwks(path, [public_jwk(key, "idp-1")])
    return {"key": key, "path": path, "kid": "idp-1"}


@pytest.fixture(scope="module")
def jwt_cluster(tmp_path_factory, issuer):
    c = LocalCluster(str(tmp_path_factory.mktemp("jwtc")), n_nodes=1, auth_config=(
        f'jwks_file = "{issuer["path"]}"\njwt_audience = "{AUDIENCE}"\njwt_user_claim = "{CLAIM}"\n'
        f'jwt_issuer = "{ISSUER}"'))
    try:
        c.start()
        yield c
    finally:
        c.stop()


def assert_refused(cluster, token: str, what: str) -> None:
    with pytest.raises(Unauthenticated):
        with cluster.client(token=token) as client:
            client.list_jobs()
        pytest.fail(what)


def test_an_external_token_acts_as_the_user_in_its_claim_and_only_as_them(jwt_cluster, issuer, stranger):
    token = mint(issuer["key"], issuer["kid"], user=stranger, sub="someone-else")
    with jwt_cluster.client() as root:
        roots_job = root.submit(jwt_cluster.spec("#!/bin/sh\nsleep 30\n", hold=True))
        with jwt_cluster.client(token=token) as user:
            theirs = user.submit(jwt_cluster.spec("#!/bin/sh\nsleep 30\n", hold=True))
            assert user.get_job(theirs).user == stranger
            assert {j.job_id for j in user.list_jobs(JobFilter(users=frozenset({stranger})))} == {theirs}
            with pytest.raises(NotJobOwner):
                user.cancel(roots_job)
            user.cancel(theirs)
            assert user.get_job(theirs).state.name == "CANCELLED"
        root.cancel(roots_job)


def test_jem_token_jwts_still_work_beside_external_ones(jwt_cluster, stranger):
    with jwt_cluster.client_as(stranger) as user:
        assert user.list_jobs(JobFilter(users=frozenset({"root"}))) is not None


def test_forged_external_tokens_are_refused(jwt_cluster, issuer, stranger, tmp_path):
    key, kid = issuer["key"], issuer["kid"]
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    now = int(time.time())
    header = b64(json.dumps({"alg": "none", "kid": kid, "typ": "JWT"}).encode())
    body = b64(json.dumps({"aud": AUDIENCE, "exp": now + 300, CLAIM: stranger}).encode())
    hs_header = b64(json.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}).encode())
    hs_sig = b64(hmac.new(public_pem, f"{hs_header}.{body}".encode(), hashlib.sha256).digest())
    refused = {
        "another key, same kid": mint(rsa_key(), kid, user=stranger),
        "another key, unknown kid": mint(rsa_key(), "idp-unknown", user=stranger),
        "expired": mint(key, kid, user=stranger, exp=now - 120),
        "no exp": mint(key, kid, user=stranger, exp=None),
        "wrong audience": mint(key, kid, user=stranger, aud="other-portal"),
        "no audience": mint(key, kid, user=stranger, aud=None),
        "another issuer": mint(key, kid, user=stranger, iss="https://other-idp.example"),
        "no issuer": mint(key, kid, user=stranger, iss=None),
        "alg none": f"{header}.{body}.",
        "HS256 keyed with the public key": f"{hs_header}.{body}.{hs_sig}",
        "missing user claim": mint(key, kid, user=None, sub=stranger),
        "unknown user": mint(key, kid, user="no-such-user-xyz"),
        "root": mint(key, kid, user="root"),
        "ES256 with the RSA key's kid": mint(ec.generate_private_key(ec.SECP256R1()), kid, user=stranger,
                                             algorithm="ES256"),
    }
    for what, token in refused.items():
        assert_refused(jwt_cluster, token, what)
    with jwt_cluster.client(token=mint(key, kid, user=stranger)) as user:   # the honest path
        user.list_jobs()


def test_a_new_key_in_the_jwks_file_is_trusted_without_a_restart(jwt_cluster, issuer, stranger):
    new_key = rsa_key()
    token = mint(new_key, "idp-2", user=stranger)
    assert_refused(jwt_cluster, token, "not yet in the JWKS")
    write_jwks(issuer["path"], [public_jwk(issuer["key"], issuer["kid"]), public_jwk(new_key, "idp-2")])
    with jwt_cluster.client(token=mint(new_key, "idp-2", user=stranger)) as user:
        user.list_jobs()
    write_jwks(issuer["path"], [public_jwk(new_key, "idp-2")])   # the old key removed: revoked
    assert_refused(jwt_cluster, mint(issuer["key"], issuer["kid"], user=stranger), "removed key")
    write_jwks(issuer["path"], [public_jwk(issuer["key"], issuer["kid"])])
