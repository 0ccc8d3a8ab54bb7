"""Fixtures that start a real cluster per test and tear it down afterwards."""

import os

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
