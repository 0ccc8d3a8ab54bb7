"""TRES limits off the wire (AdminService's accounting calls) are checked as sacctmgr's text is: a
name that is not a TRES, or a negative amount other than -1 (clear), is refused with a typed
error instead of reaching the scheduler (a fuzzed empty name made every cycle fail)."""

import pytest

from jem.accountingwire import association_change_from_pb, limit_changes_from_pb
from jem.model.errors import InvalidSetting
from jem.model.tres import CLEAR
from jem.v1 import admin_pb2


@pytest.mark.parametrize("amounts", [{"": 1}, {"gres/": 2}, {"cpu ": 1}, {"bogus": 3}, {"cpu": -2}])
def test_a_tres_limit_that_is_not_one_is_refused(amounts):
    pb = admin_pb2.Limits()
    pb.max_tres_per_job.update(amounts)
    with pytest.raises(InvalidSetting):
        limit_changes_from_pb(pb)
    change = admin_pb2.AssociationChange()
    change.limits.grp_tres.update(amounts)
    with pytest.raises(InvalidSetting):
        association_change_from_pb(change)


def test_known_names_and_clear_pass():
    pb = admin_pb2.Limits()
    pb.grp_tres.update({"cpu": 4, "mem": 0, "gres/gpu:a100": 2, "node": CLEAR})
    assert dict(limit_changes_from_pb(pb)["grp_tres"]) == {"cpu": 4, "mem": 0, "gres/gpu:a100": 2, "node": CLEAR}
