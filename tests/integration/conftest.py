"""Fixtures that start a real cluster per test and tear it down afterwards."""

import contextlib
import os
import subprocess
import uuid

import pytest

from harness import LocalCluster


@pytest.fixture
def cluster(tmp_path):
    c = LocalCluster(str(tmp_path))
    try:
        c.start()
        yield c
    finally:
        c.stop()


@pytest.fixture
def make_cluster(tmp_path):
    """Build a cluster with custom settings: make_cluster(n_nodes=..., extra_config=...)."""
    made = []

    def make(**kwargs) -> LocalCluster:
        c = LocalCluster(os.path.join(str(tmp_path), f"c{len(made)}"), **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()


@contextlib.contextmanager
def unix_user(prefix: str = "jemx"):
    """A real Unix user (not root), made with useradd -m and removed with its home after."""
    name = f"{prefix}{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "-m", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["userdel", "-r", name], check=False, capture_output=True)


@pytest.fixture(scope="session")
def stranger():
    """A real Unix user (not root) for the length of the test session; removed after."""
    with unix_user() as name:
        yield name


@pytest.fixture
def operator_user():
    """A second real Unix user, for one test (the tests that use it make it an Operator)."""
    with unix_user("jemo") as name:
        yield name
