"""Reference implementation of jem._core.fit: priority-order first fit, as plain loops.

Written for obviousness, not speed: lists of ints, no numpy tricks. The kernel
must agree with it exactly (resources are integers). Status codes match
jem._core.fit.STARTED / RESOURCES / PRIORITY.

Arguments mirror the kernel's; anything indexable works (numpy arrays or lists):
    free         (n_nodes, n_res)  free units per node
    usable       (n_nodes,)        truthy where new jobs may start
    membership   (n_parts, n_nodes) truthy where the node is in the partition
    requests     (n_jobs, n_res)   per-node request, jobs in priority order
    n_nodes_req  (n_jobs,)         nodes wanted, each >= 1
    part_idx     (n_jobs,)         partition row of each job
"""

STARTED = 0
RESOURCES = 1
PRIORITY = 2


def fitting_nodes(free, request, allowed):
    """List with 1 for each node that is allowed and where `request` fits in every column."""
    result = []
    for node_idx in range(len(free)):
        fits = 1 if allowed[node_idx] else 0
        if fits:
            for res in range(len(request)):
                if int(request[res]) > int(free[node_idx][res]):
                    fits = 0
        result.append(fits)
    return result


def first_fit(free, usable, membership, requests, n_nodes_req, part_idx):
    """One first-fit pass; returns (status, offsets, nodes) as lists of ints.

    Job j's nodes are nodes[offsets[j]:offsets[j + 1]], all -1 unless it started.
    `free` is not modified (the pass works on a copy).
    """
    n_nodes = len(free)
    n_jobs = len(requests)
    remaining = [[int(x) for x in row] for row in free]
    blocked_parts = set()

    offsets = [0]
    for j in range(n_jobs):
        offsets.append(offsets[-1] + int(n_nodes_req[j]))
    nodes = [-1] * offsets[-1]
    status = []

    for j in range(n_jobs):
        part = int(part_idx[j])
        if part in blocked_parts:
            status.append(PRIORITY)
            continue
        wanted = int(n_nodes_req[j])
        request = [int(x) for x in requests[j]]
        chosen = []
        for node_idx in range(n_nodes):
            if len(chosen) == wanted:
                break
            if not usable[node_idx] or not membership[part][node_idx]:
                continue
            if all(request[res] <= remaining[node_idx][res] for res in range(len(request))):
                chosen.append(node_idx)
        if len(chosen) == wanted:
            for k, node_idx in enumerate(chosen):
                nodes[offsets[j] + k] = node_idx
                for res in range(len(request)):
                    remaining[node_idx][res] -= request[res]
            status.append(STARTED)
        else:
            status.append(RESOURCES)
            blocked_parts.add(part)
    return status, offsets, nodes
