"""A straightforward pure-Python simulator of FCFS and textbook EASY over an SWF trace.

Independent of jem (own parser, own event loop, own EASY rule), for comparing
`jem sim` start times. Conventions (the same as jem.scheduler.swf):
- machine: `procs`, else header MaxProcs, else MaxNodes processors;
- size: field 8, else field 5; run time: field 4; estimate: field 9, else the
  run time, never less than the run time, at least 1 s;
- skip run < 0, size <= 0, size > machine; queue in submit order, ties in file order;
- at one instant: completions, then arrivals, then one pass (a job of run time 0
  ends at the instant it starts, which is handled as a further instant at the same time).

EASY (Lifka; Mu'alem & Feitelson 2001): start jobs from the head of the queue
while they fit. Then the head reserves the shadow time: the earliest expected
end (start + estimate) of running jobs by which enough processors are free;
the extra processors are those free at the shadow time beyond the head's
size. A later job starts now if it fits in the free processors and either
ends by the shadow time by its estimate, or (else) uses no more than the
extra processors, which it then takes.
"""

import gzip


def read_jobs(path, procs=None, limit=None):
    """(machine, jobs) with jobs as dicts in submit order (ties: file order)."""
    opener = gzip.open if path.endswith(".gz") else open
    header = {}
    rows = []
    with opener(path, "rt") as f:
        for line in f:
            if line.startswith(";"):
                parts = line[1:].split(":", 1)
                if len(parts) == 2 and parts[0].strip() in ("MaxProcs", "MaxNodes"):
                    header[parts[0].strip()] = int(parts[1].split()[0])
                continue
            if not line.strip():
                continue
            rows.append([int(float(x)) for x in line.split()])
            if limit is not None and len(rows) >= limit:
                break
    machine = procs or header.get("MaxProcs") or header.get("MaxNodes")
    jobs = []
    for index, row in enumerate(rows):
        run = row[3]
        size = row[7] if row[7] > 0 else row[4]
        if run < 0 or size <= 0 or size > machine:
            continue
        estimate = row[8] if row[8] > 0 else run
        estimate = max(estimate, run, 1)
        jobs.append({"id": row[0], "index": index, "submit": row[1], "run": run, "size": size, "estimate": estimate})
    jobs.sort(key=lambda j: (j["submit"], j["index"]))
    return machine, jobs


def simulate(path, policy="easy", procs=None, limit=None):
    """{SWF job number: (submit, start, end, size)} under "fcfs" or "easy"."""
    machine, jobs = read_jobs(path, procs, limit)
    return simulate_jobs(machine, jobs, policy)


def simulate_jobs(machine, jobs, policy="easy"):
    """As `simulate`, for jobs given as dicts (id, submit, run, size, estimate) in submit order."""
    free = machine
    queue = []
    running = []            # [expected end, size, actual end, job]
    result = {}
    next_job = 0
    while next_job < len(jobs) or running:
        candidates = [r[2] for r in running]
        if next_job < len(jobs):
            candidates.append(jobs[next_job]["submit"])
        now = min(candidates)
        for r in [r for r in running if r[2] <= now]:
            running.remove(r)
            free += r[1]
        while next_job < len(jobs) and jobs[next_job]["submit"] <= now:
            queue.append(jobs[next_job])
            next_job += 1
        free = _pass(now, queue, running, free, policy, result)
    return result


def _start(job, now, running, result):
    running.append([now + job["estimate"], job["size"], now + job["run"], job])
    result[job["id"]] = (job["submit"], now, now + job["run"], job["size"])


def _pass(now, queue, running, free, policy, result):
    while queue and queue[0]["size"] <= free:
        job = queue.pop(0)
        _start(job, now, running, result)
        free -= job["size"]
    if policy == "fcfs" or not queue:
        return free
    head = queue[0]
    available = free
    shadow = None
    for expected_end in sorted(r[0] for r in running):
        available = free + sum(r[1] for r in running if r[0] <= expected_end)
        if available >= head["size"]:
            shadow = expected_end
            break
    extra = available - head["size"]
    for job in list(queue[1:]):
        if job["size"] > free:
            continue
        if now + job["estimate"] <= shadow:
            pass
        elif job["size"] <= extra:
            extra -= job["size"]
        else:
            continue
        queue.remove(job)
        _start(job, now, running, result)
        free -= job["size"]
    return free
