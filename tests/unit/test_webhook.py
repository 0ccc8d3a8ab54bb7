"""Webhook signatures (HMAC-SHA256 of "timestamp.body", checked by a receiver in constant time
within a replay window), the secret file's checks, and the [mail]/[webhook] settings' checks."""

import os

import pytest

from jem.controller.webhook import is_authentic, load_secret, signature
from jem.model.config import parse_config
from jem.model.errors import ConfigError

SECRET = b"a-secret-of-32-bytes-for-tests!!"


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body():
    # Made with: printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'a-secret-of-32-bytes-for-tests!!'
    assert signature(SECRET, timestamp="1700000000", body=b'{"a":1}') == \
        "sha256=db1308bb1e066ecbe69d78ed3b5a5f8c13c9e57466c412f7f1ed4af08b78f1d6"


def test_a_receiver_takes_only_an_untouched_recent_body():
    body, stamp = b'{"event":"ended"}', "1700000000"
    good = signature(SECRET, timestamp=stamp, body=body)
    assert is_authentic(SECRET, timestamp=stamp, signature_header=good, body=body, now=1700000100)
    assert not is_authentic(SECRET, timestamp=stamp, signature_header=good, body=b'{"event":"ended "}',
                            now=1700000100)
    assert not is_authentic(b"another secret of enough bytes!!", timestamp=stamp, signature_header=good, body=body,
                            now=1700000100)
    assert not is_authentic(SECRET, timestamp="1700000001", signature_header=good, body=body, now=1700000100)
    assert not is_authentic(SECRET, timestamp=stamp, signature_header=good, body=body, now=1700000000 + 301)
    assert not is_authentic(SECRET, timestamp="soon", signature_header=good, body=body, now=1700000100)


def _secret_file(tmp_path, mode: int, data: bytes = SECRET + b"\n") -> str:
    path = str(tmp_path / "webhook.key")
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    return path


def test_the_secret_file_must_be_the_controllers_alone(tmp_path):
    assert load_secret(_secret_file(tmp_path, 0o600)) == SECRET
    assert load_secret(_secret_file(tmp_path, 0o400)) == SECRET
    for mode in (0o644, 0o640, 0o604, 0o620):
        with pytest.raises(ConfigError, match="readable by it alone"):
            load_secret(_secret_file(tmp_path, mode))


def test_a_linked_short_or_missing_secret_is_refused(tmp_path):
    target = _secret_file(tmp_path, 0o600)
    link = str(tmp_path / "link.key")
    os.symlink(target, link)
    with pytest.raises(ConfigError):
        load_secret(link)
    with pytest.raises(ConfigError, match="at least"):
        load_secret(_secret_file(tmp_path, 0o600, b"short\n"))
    with pytest.raises(ConfigError, match="No such file"):
        load_secret(str(tmp_path / "missing.key"))


@pytest.mark.parametrize("raw, key", [
    ({"webhook": {"url": "ftp://h/x", "secret_file": "/k"}}, "webhook.url"),
    ({"webhook": {"url": "file:///etc/passwd", "secret_file": "/k"}}, "webhook.url"),
    ({"webhook": {"url": "https:///x", "secret_file": "/k"}}, "webhook.url"),
    ({"webhook": {"url": "https://h/x"}}, "webhook.secret_file"),
    ({"webhook": {"url": "https://h/x", "secret_file": "k"}}, "webhook.secret_file"),
    ({"webhook": {"events": ["ended", "exploded"]}}, "webhook.events"),
    ({"webhook": {"max_attempts": 0}}, "webhook.max_attempts"),
    ({"mail": {"run_as": "root"}}, "mail.run_as"),
    ({"mail": {"program": "mail"}}, "mail.program"),
    ({"mail": {"domain": "-x.org"}}, "mail.domain"),
    ({"mail": {"domain": "x.org;rm"}}, "mail.domain"),
    ({"mail": {"sendmail": "/x"}}, "mail.sendmail"),
])
def test_bad_notification_settings_are_refused_by_name(raw, key):
    with pytest.raises(ConfigError, match=key):
        parse_config(raw)


def test_notification_settings_load():
    config = parse_config({"mail": {"program": "/usr/local/bin/mailer", "domain": "example.org", "run_as": "mail"},
                           "webhook": {"url": "https://hooks.example.org/jem", "secret_file": "/etc/jem/hook.key",
                                       "events": ["started", "ended"], "timeout_s": 2}})
    assert (config.mail.program, config.mail.domain, config.mail.run_as) == \
        ("/usr/local/bin/mailer", "example.org", "mail")
    assert config.webhook.events == ("started", "ended") and config.webhook.timeout_s == 2.0
    assert not parse_config({}).webhook.is_on and parse_config({}).mail.program == "/bin/mail"
