"""Reference implementation of jem._core.backfill, as plain loops over intervals.

Written for obviousness, not speed. A node's availability at time t is its
free units now, plus what running allocations have returned by t, minus every
job placed (started or reserved) over an interval containing t. Availability
only changes at "breakpoints" (running ends, placed starts and ends), so a
window fits when it fits at its start and at every breakpoint inside it, and
the earliest start of a reservation is `now` or one of the breakpoints.

A job may use a node that is usable, in its partition, has all of its
`feat_all` features and (when `feat_any` is not 0) one of its `feat_any` ones.
An exclusive job asks, on each node, for the node's whole capacity: its free
units now plus everything any running job holds there.

Association and QOS limits are one more kind of "node": a group with one unit
column (its limit less what running jobs hold, stepping up as they end). A job
counts its units in every group it is a member of, and must fit in those whose
limit binds it; a job whose nodes fit now but a limit does not is LIMIT (no
reservation, blocks nothing). Estimates: after the pass, jobs without a start
are planned in order as conservative backfill would, without reserving.
Forecasts: the jobs after those the estimates reached (estimate_depth) that can
fit on enough nodes at all are placed in order on their partition's pooled
availability (the sum over its usable nodes of what each has, never less than
nothing), per node request times node count, no earlier than the partition's
forecast before (nor its latest start planned before the forecasts), and in their limits.

Status codes match jem._core.backfill; arguments mirror the kernel's.
"""

STARTED = 0
RESOURCES = 1
PRIORITY = 2
BACKFILLED = 3
LIMIT = 4
INF = 1 << 60


class Plan:
    """Every node's free units now, running releases and placed intervals."""

    def __init__(self, free, run_node, run_end, run_alloc, now):
        self.now = now
        self.free = [[int(x) for x in row] for row in free]
        self.releases = [[] for _ in free]           # per node: (time, units)
        for k in range(len(run_node)):
            end = min(max(int(run_end[k]), now + 1), INF)
            if end < INF:
                self.releases[int(run_node[k])].append((end, [int(x) for x in run_alloc[k]]))
        self.placed = [[] for _ in free]             # per node: (start, end, units)
        self.whole = [list(row) for row in self.free]  # per node: free now + every running allocation
        for k in range(len(run_node)):
            node = self.whole[int(run_node[k])]
            for r in range(len(node)):
                node[r] += int(run_alloc[k][r])

    def available(self, node_idx, t):
        units = list(self.free[node_idx])
        for end, alloc in self.releases[node_idx]:
            if end <= t:
                units = [u + a for u, a in zip(units, alloc)]
        for start, end, req in self.placed[node_idx]:
            if start <= t < end:
                units = [u - r for u, r in zip(units, req)]
        return units

    def breakpoints(self, node_idx):
        times = {end for end, _ in self.releases[node_idx]}
        for start, end, _ in self.placed[node_idx]:
            times.add(start)
            times.add(end)
        return times

    def fits(self, node_idx, request, t0, t1):
        checks = [t0] + [t for t in self.breakpoints(node_idx) if t0 < t < t1]
        for t in checks:
            if any(r > a for r, a in zip(request, self.available(node_idx, t))):
                return False
        return True

    def place(self, node_idx, request, t0, t1):
        self.placed[node_idx].append((t0, t1, list(request)))


def has_features(node_bits, feat_all, feat_any):
    """True when the node holds every feat_all bit and, if feat_any is set, one feat_any bit."""
    if node_bits & feat_all != feat_all:
        return False
    return feat_any == 0 or node_bits & feat_any != 0


class Ask:
    """What one job asks of a node: its request, or the whole node when exclusive."""

    def __init__(self, plan, request, is_exclusive):
        self.plan, self.request, self.is_exclusive = plan, request, is_exclusive

    def on(self, node_idx):
        return self.plan.whole[node_idx] if self.is_exclusive else self.request

    def may_use(self, node_idx):
        """An exclusive job's request must be within the node (it then takes all of it)."""
        return not self.is_exclusive or all(r <= w for r, w in zip(self.request, self.plan.whole[node_idx]))


class Limits:
    """The limit groups as one-column plans, and each job's memberships."""

    def __init__(self, limits, now):
        grp_free, grun_group, grun_end, grun_amt, job_off, job_grp, job_amt, job_binds = limits
        self.plan = Plan([[int(x)] for x in grp_free], grun_group, grun_end, [[int(x)] for x in grun_amt], now)
        self.members = [[(int(job_grp[k]), int(job_amt[k]), bool(job_binds[k]))
                         for k in range(int(job_off[j]), int(job_off[j + 1]))] for j in range(len(job_off) - 1)]

    def fit(self, job, t0, t1):
        return all(self.plan.fits(g, [amount], t0, t1) for g, amount, binds in self.members[job] if binds)

    def breakpoints(self, job):
        times = set()
        for g, _, binds in self.members[job]:
            if binds:
                times |= self.plan.breakpoints(g)
        return times

    def take(self, job, t0, t1):
        for g, amount, _ in self.members[job]:
            self.plan.place(g, [amount], t0, t1)


class NoLimits:
    def fit(self, job, t0, t1):
        return True

    def breakpoints(self, job):
        return set()

    def take(self, job, t0, t1):
        pass


def backfill(free, usable, *, membership, requests, n_nodes_req, part_idx, duration_s,
             run_node, run_end, run_alloc, now, reservation_depth,
             node_features=None, feat_all=None, feat_any=None, exclusive=None, limits=None, estimate_depth=0,
             blocks=None, no_reserve=None, forecast=False):
    """One pass; returns (status, start, offsets, nodes, estimated) as lists of ints (see the kernel).
    `blocks`: (node, start, end) windows no job of the pass may use, placed before it as more than
    all of the node."""
    now = int(now)
    groups = NoLimits() if limits is None else Limits(limits, now)
    n_jobs = len(requests)
    node_features = [0] * len(free) if node_features is None else [int(x) for x in node_features]
    feat_all = [0] * n_jobs if feat_all is None else [int(x) for x in feat_all]
    feat_any = [0] * n_jobs if feat_any is None else [int(x) for x in feat_any]
    exclusive = [0] * n_jobs if exclusive is None else [int(x) for x in exclusive]
    plan = Plan(free, run_node, run_end, run_alloc, now)
    if blocks is not None:
        units = blocks[3] if len(blocks) > 3 else [None] * len(blocks[0])
        for node_idx, t0, t1, taken in zip(*blocks[:3], units):
            if int(t1) > now:
                whole = [w + 1 for w in plan.whole[int(node_idx)]]
                if taken is not None and int(taken[0]) >= 0:   # (some units; columns not given: none)
                    whole = [int(u) for u in taken] + [0] * (len(whole) - len(taken))
                taken = whole
                plan.place(int(node_idx), taken, max(int(t0), now), min(int(t1), INF))
    offsets = [0]
    for j in range(n_jobs):
        offsets.append(offsets[-1] + int(n_nodes_req[j]))
    nodes = [-1] * offsets[-1]
    status, start = [], []
    allowed_of, asks = [], []
    blocked_parts = set()
    any_blocked = False
    n_reserved = 0
    for j in range(n_jobs):
        part = int(part_idx[j])
        wanted = int(n_nodes_req[j])
        request = [int(x) for x in requests[j]]
        duration = min(int(duration_s[j]), INF)
        ask = Ask(plan, request, bool(exclusive[j]))
        allowed = [n for n in range(len(free)) if usable[n] and membership[part][n] and ask.may_use(n)
                   and has_features(node_features[n], feat_all[j], feat_any[j])]
        allowed_of.append(allowed)
        asks.append(ask)
        if reservation_depth == 0 and part in blocked_parts:
            status.append(PRIORITY)
            start.append(-1)
            continue
        end = min(now + duration, INF)
        chosen = [n for n in allowed if plan.fits(n, ask.on(n), now, end)][:wanted]
        if len(chosen) == wanted:
            if not groups.fit(j, now, end):
                status.append(LIMIT)
                start.append(-1)
                continue
            for k, node_idx in enumerate(chosen):
                plan.place(node_idx, ask.on(node_idx), now, end)
                nodes[offsets[j] + k] = node_idx
            groups.take(j, now, end)
            status.append(BACKFILLED if any_blocked and reservation_depth > 0 else STARTED)
            start.append(now)
            continue
        any_blocked = True
        if reservation_depth == 0:
            blocked_parts.add(part)
            status.append(RESOURCES)
            start.append(-1)
        elif no_reserve is not None and no_reserve[j]:
            status.append(RESOURCES)   # (NoReserve: blocked, no reservation, the slot left to the next)
            start.append(-1)
        elif n_reserved < reservation_depth:
            status.append(RESOURCES)
            start.append(_reserve(plan, groups, j, allowed, ask, wanted, duration, nodes, offsets[j]))
            n_reserved += start[-1] >= 0
        else:
            status.append(PRIORITY)
            start.append(-1)
    estimated = [0] * n_jobs
    n_estimated = 0
    estimates_end = n_jobs
    for j in range(n_jobs):
        if n_estimated >= estimate_depth:
            estimates_end = j
            break
        if start[j] >= 0:
            continue
        n_estimated += 1
        start[j] = _reserve(plan, groups, j, allowed_of[j], asks[j], int(n_nodes_req[j]),
                            min(int(duration_s[j]), INF), nodes, offsets[j])
        estimated[j] = int(start[j] >= 0)
    if forecast:
        pools = {}
        for j in range(estimates_end, n_jobs):
            if start[j] >= 0:
                continue
            cap = [[f + sum(alloc[r] for _, alloc in plan.releases[n]) for r, f in enumerate(plan.free[n])]
                   for n in range(len(free))]
            if sum(all(x <= c for x, c in zip(asks[j].on(n), cap[n])) for n in allowed_of[j]) < int(n_nodes_req[j]):
                continue
            part = int(part_idx[j])
            if part not in pools:   # (no earlier than the latest start planned before it in its partition)
                pools[part] = Pool(plan, [n for n in range(len(free)) if usable[n] and membership[part][n]])
                pools[part].cursor = max([now] + [start[k] for k in range(estimates_end)
                                                  if int(part_idx[k]) == part and start[k] >= 0])
            pool = pools[part]
            start[j] = pool.forecast(groups, j, [int(x) * int(n_nodes_req[j]) for x in requests[j]],
                                     min(int(duration_s[j]), INF))
            estimated[j] = 2 if start[j] >= 0 else 0
    return status, start, offsets, nodes, estimated


class Pool:
    """A partition's nodes as one: at each time the sum of what each has (at least nothing),
    less the forecasts placed on it."""

    def __init__(self, plan, members):
        self.plan, self.members, self.placed, self.cursor = plan, members, [], plan.now

    def available(self, t):
        units = [0] * len(self.plan.free[0])
        for n in self.members:
            units = [u + max(a, 0) for u, a in zip(units, self.plan.available(n, t))]
        for t0, t1, req in self.placed:
            if t0 <= t < t1:
                units = [u - r for u, r in zip(units, req)]
        return units

    def breakpoints(self):
        times = set()
        for n in self.members:
            times |= self.plan.breakpoints(n)
        for t0, t1, _ in self.placed:
            times |= {t0, t1}
        return times

    def fits(self, request, t0, t1):
        return all(all(r <= a for r, a in zip(request, self.available(t)))
                   for t in [t0] + [t for t in self.breakpoints() if t0 < t < t1])

    def forecast(self, groups, job, request, duration):
        candidates = {self.cursor} | {t for t in self.breakpoints() | groups.breakpoints(job)
                                      if self.cursor <= t < INF}
        for t in sorted(candidates):
            end = min(t + duration, INF)
            if self.fits(request, t, end) and groups.fit(job, t, end):
                self.placed.append((t, end, request))
                groups.take(job, t, end)
                self.cursor = t
                return t
        return -1


def _reserve(plan, groups, job, allowed, ask, wanted, duration, nodes, first_slot):
    """Earliest time at which `wanted` allowed nodes fit the request for `duration` and every limit
    binding the job holds its units; place it there."""
    candidates = {plan.now} | {t for t in groups.breakpoints(job) if plan.now <= t < INF}
    for node_idx in allowed:
        candidates |= {t for t in plan.breakpoints(node_idx) if plan.now <= t < INF}
    for t in sorted(candidates):
        end = min(t + duration, INF)
        chosen = [n for n in allowed if plan.fits(n, ask.on(n), t, end)][:wanted]
        if len(chosen) == wanted and groups.fit(job, t, end):
            for k, node_idx in enumerate(chosen):
                plan.place(node_idx, ask.on(node_idx), t, end)
                nodes[first_slot + k] = node_idx
            groups.take(job, t, end)
            return t
    return -1
