"""An external issuer's JWKS: only public RS256/ES256 signing keys are kept, and the set follows its file."""

import json
import os
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from jem.model.errors import ConfigError, Unauthenticated
from jem.security.jwks import JwkSet, parse_jwks, verify_external


def rsa_jwk(kid: str, *, bits: int = 2048, private: bool = False, **extra) -> dict:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key if private else key.public_key()))
    return dict(jwk, kid=kid, **extra)


def test_only_public_asymmetric_signing_keys_with_a_kid_are_kept():
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    keys = parse_jwks(json.dumps({"keys": [
        rsa_jwk("good-rsa", alg="RS256", use="sig"),
        dict(ec_jwk, kid="good-ec"),
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        rsa_jwk("hs-alg", alg="HS256"),
        rsa_jwk("encryption", use="enc"),
        rsa_jwk("private", private=True),
        rsa_jwk("short", bits=1024),
        dict(rsa_jwk("x"), kid=""),
        "not a key",
    ]}), where="test")
    assert {kid: k.algorithm for kid, k in keys.items()} == {"good-rsa": "RS256", "good-ec": "ES256"}


@pytest.mark.parametrize("text", ["not json", "[]", '{"keys": {}}'])
def test_a_file_that_is_no_jwks_is_a_config_error(text):
    with pytest.raises(ConfigError):
        parse_jwks(text, where="test")


def test_the_set_follows_its_file_and_fails_closed(tmp_path):
    path = str(tmp_path / "jwks.json")
    with pytest.raises(ConfigError):
        JwkSet(path)            # missing at start: the controller refuses to start
    with open(path, "w") as f:
        json.dump({"keys": [rsa_jwk("k1")]}, f)
    keys = JwkSet(path)
    assert keys.kids() == ["k1"]
    with open(path + ".new", "w") as f:
        json.dump({"keys": [rsa_jwk("k2")]}, f)
    os.replace(path + ".new", path)
    assert keys.kids() == ["k2"]
    with open(path + ".new", "w") as f:
        f.write("{broken")
    os.replace(path + ".new", path)
    assert keys.kids() == []    # not the old keys


def test_an_issuer_when_configured_must_be_the_tokens(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = str(tmp_path / "jwks.json")
    with open(path, "w") as f:
        json.dump({"keys": [dict(json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), kid="k1")]}, f)
    keys = JwkSet(path)

    def token(**claims) -> str:
        return jwt.encode({"sub": "alice", "aud": "jem", "exp": time.time() + 60, **claims}, key,
                          algorithm="RS256", headers={"kid": "k1"})

    idp = "https://idp.example.org"
    assert verify_external(token(iss=idp), keys, audience="jem", issuer=idp)["sub"] == "alice"
    for refused in (token(iss="https://other.example.org"), token()):   # another issuer's, or none named
        with pytest.raises(Unauthenticated):
            verify_external(refused, keys, audience="jem", issuer=idp)
    assert verify_external(token(iss="anyone"), keys, audience="jem")["sub"] == "alice"   # not configured: keys alone
