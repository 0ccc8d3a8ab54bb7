"""contrib/grafana/jem.json: valid JSON of a Grafana dashboard whose every query names metrics the
controller serves (so a renamed metric cannot leave a panel empty unnoticed)."""

import json
import os
import re

from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from jem.controller.metrics import SECTIONS, ControllerInstruments, ControllerMetrics
from jem.controller.stats import ControllerStats
from jem.model.clusterfigures import JobTally
from jem.model.config import ClusterConfig, Config
from jem.model.node import Node
from jem.model.partition import Partition
from jem.model.resources import Resources

DASHBOARD = os.path.join(os.path.dirname(__file__), "..", "..", "contrib", "grafana", "jem.json")


class _State:
    """What ControllerMetrics reads of a controller's state: an empty job tally, one node."""

    def __init__(self):
        self.partitions = (Partition("debug", ("n1",)),)
        self.config = Config(cluster=ClusterConfig(name="t"), partitions=self.partitions)
        tally = JobTally()
        self.jobs = type("Jobs", (), {"tally_snapshot": lambda _, **kw: tally.snapshot(**kw)})()
        node = Node("n1", Resources(4, 1024), is_responding=True)
        self.nodes = type("Nodes", (), {"snapshot_unlocked": lambda _: [node]})()
        self.stats = ControllerStats()
        self.agents = type("Agents", (), {"in_flight": 0, "error_counts": lambda _: {("LaunchJobs", "UNAVAILABLE"): 1}})()


def _served_names() -> set[str]:
    instruments = ControllerInstruments()
    instruments.rpc_seconds.labels("Ping", "OK").observe(0.001)
    instruments.queue_wait_seconds.labels("debug").observe(1)
    text = generate_latest(ControllerMetrics(_State(), instruments).registry(SECTIONS)).decode()
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def test_every_panel_queries_metrics_the_controller_serves():
    with open(DASHBOARD) as f:
        dashboard = json.load(f)
    assert dashboard["uid"] and dashboard["panels"]
    served = _served_names()
    queried = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"\b((?:slurm|jem)_[a-z_]+)\b", target["expr"])}
    assert queried and queried <= served, queried - served
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
