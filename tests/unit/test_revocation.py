"""The CA's revocation list: `jem ca revoke` adds a certificate to ca.crl, daemons read it anew when it changes,
and a list that is not the CA's fails closed."""

import os
import shutil
import subprocess
import sys

import pytest

from jem.model.errors import CAError
from jem.security import ca, revocation
from jem.security.ca import cert_paths


def _pem(security_dir: str, cert_name: str) -> bytes:
    with open(cert_paths(security_dir, cert_name).cert, "rb") as f:
        return f.read()


@pytest.fixture
def security(tmp_path):
    directory = str(tmp_path / "security")
    ca.init_ca(directory)
    ca.issue_controller_cert(directory)
    for node in ("n1", "n2"):
        ca.issue_node_cert(directory, node)
    return directory


def test_a_revoked_certificate_is_on_the_list_and_the_others_are_not(security):
    checks = revocation.RevocationList(security)
    assert not checks.is_revoked(_pem(security, "nodes/n1"))   # no ca.crl: nothing is revoked
    revocation.revoke(security, "nodes/n1")
    assert checks.is_revoked(_pem(security, "nodes/n1"))       # re-read without a restart
    assert not checks.is_revoked(_pem(security, "nodes/n2"))
    revocation.revoke(security, "controller")                  # a second revocation keeps the first
    assert checks.is_revoked(_pem(security, "nodes/n1")) and checks.is_revoked(_pem(security, "controller"))
    assert oct(os.stat(os.path.join(security, revocation.CA_CRL)).st_mode & 0o777) == "0o644"


def test_a_list_the_ca_did_not_sign_fails_closed(security, tmp_path):
    other = str(tmp_path / "other")
    ca.init_ca(other, name="another CA")
    ca.issue_node_cert(other, "n9")
    revocation.revoke(other, "nodes/n9")
    shutil.copy(os.path.join(other, revocation.CA_CRL), os.path.join(security, revocation.CA_CRL))
    checks = revocation.RevocationList(security)
    assert checks.is_revoked(_pem(security, "nodes/n2"))   # a planted list: every peer refused
    with pytest.raises(CAError, match="not signed by the cluster CA"):
        revocation.revoke(security, "nodes/n1")           # and never extended
    with open(os.path.join(security, revocation.CA_CRL), "w") as f:
        f.write("garbage")
    assert checks.is_revoked(_pem(security, "nodes/n2"))
    os.unlink(os.path.join(security, revocation.CA_CRL))
    assert not checks.is_revoked(_pem(security, "nodes/n2"))


def test_a_certificate_of_another_ca_cannot_be_revoked_here(security, tmp_path):
    other = str(tmp_path / "other")
    ca.init_ca(other, name="another CA")
    ca.issue_node_cert(other, "n1")
    shutil.copy(cert_paths(other, "nodes/n1").cert, cert_paths(security, "nodes/n1").cert)
    with pytest.raises(CAError, match="not issued by the CA"):
        revocation.revoke(security, "nodes/n1")


def test_jem_ca_revoke(security):
    jem = [sys.executable, "-m", "jem.cli.main", "ca", "revoke"]
    done = subprocess.run([*jem, "node", "n2", "--dir", security], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "revoked nodes/n2" in done.stdout
    assert revocation.RevocationList(security).is_revoked(_pem(security, "nodes/n2"))
    for argv in (["node"], ["controller", "n1"], ["node", "../etc"]):
        refused = subprocess.run([*jem, *argv, "--dir", security], capture_output=True, text=True)
        assert refused.returncode != 0 and "Traceback" not in refused.stderr, argv
