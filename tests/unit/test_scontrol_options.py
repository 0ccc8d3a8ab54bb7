"""scontrol's getopt options, help text, show hostnames and show config layout (issue 12)."""

from jem.controller.settings import public_settings
from jem.model.config import parse_config
from jem.model.controllerinfo import ControllerInfo
from jem_slurm import scontrol, scontrol_show


def test_unknown_option_is_getopts_message(capsys):
    assert scontrol.main(["--json", "show", "job"]) == 1
    assert capsys.readouterr().err == ("scontrol: unrecognized option '--json'\n"
                                       "Try \"scontrol --help\" for more information\n")


def test_help_option_and_keyword_print_slurms_text(capsys):
    assert scontrol.main(["--help"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("scontrol [<OPTION>] [<COMMAND>]") and text.endswith("are distinct).  " + " " * 53 + "\n\n")
    assert scontrol.main(["help"]) == 0
    assert capsys.readouterr().out == text


def test_hostnames_empty_and_missing(capsys, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_NODELIST", raising=False)
    assert scontrol.main(["show", "hostnames", ""]) == 0
    assert capsys.readouterr() == ("", "")
    assert scontrol.main(["show", "hostnames"]) == 0
    assert capsys.readouterr() == ("", "scontrol: error: host list is empty\n")
    monkeypatch.setenv("SLURM_JOB_NODELIST", "n[1-2]")
    assert scontrol.main(["show", "hostnames"]) == 0
    assert capsys.readouterr().out == "n1\nn2\n"


def test_config_has_slurms_keys_and_jems_values():
    info = ControllerInfo(cluster_name="c1", host="head", version="0", server_time=0.0)
    settings = public_settings(parse_config({"priority": {"weight_age": 5},
                                             "scheduler": {"preempt_type": "qos", "preempt_mode": "requeue",
                                                           "kill_wait_s": 45, "max_job_count": 2000},
                                             "cluster": {"private_data": ["jobs", "usage"]}}))
    text = scontrol_show.config_text(info, "10.0.0.1:6817", 0.0, settings=settings)
    lines = text.splitlines()
    assert len(lines) == 1 + len(scontrol_show.CONFIG_KEYS) + 2 + len(scontrol_show.CGROUP_KEYS) + 2
    assert "ClusterName             = c1" in lines and "SlurmctldHost[0]        = head(10.0.0.1)" in lines
    assert "PriorityWeightAge       = 5" in lines and "PriorityType            = priority/multifactor" in lines
    assert lines[-1] == "Slurmctld(primary) at head is UP"
    for line in ("PreemptType             = preempt/qos", "PreemptMode             = REQUEUE",
                 "KillWait                = 45 sec", "MaxJobCount             = 2000",
                 "PrivateData             = jobs,usage", "SchedulerType           = sched/backfill",
                 "PriorityMaxAge          = 7-00:00:00", "MinJobAge               = 300 sec"):
        assert line in lines, line
