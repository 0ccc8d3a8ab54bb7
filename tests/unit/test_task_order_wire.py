"""A step order's fencing token on the wire: the job's run (unset stays unset) and the node epoch."""

from jem.convert import task_order_from_pb, task_order_to_pb
from jem.model.resources import Resources
from jem.model.step import StepSpec, TaskOrder


def order(**fields) -> TaskOrder:
    return TaskOrder(job_id=3, step_id=1, spec=StepSpec(argv=("true",)), user="ann", uid=1, gid=1, task_ids=(0,),
                     step_nodes=("n1",), job_nodes=("n1",), n_tasks=1, alloc=Resources(1, 100, 0), **fields)


def test_a_step_order_carries_its_run_and_node_epoch_across_the_wire():
    for run in (0, 4):
        pb = task_order_to_pb(order(restart_count=run, node_epoch=7))
        assert pb.HasField("restart_count") and (pb.restart_count, pb.node_epoch) == (run, 7)
        assert task_order_from_pb(pb) == order(restart_count=run, node_epoch=7)


def test_an_order_naming_no_run_stays_so_across_the_wire():
    pb = task_order_to_pb(order())
    assert not pb.HasField("restart_count") and pb.node_epoch == 0
    assert task_order_from_pb(pb) == order()
