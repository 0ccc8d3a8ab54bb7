"""Every default value of JEM's configuration, each with its unit, in one place."""

import os

CONTROLLER_PORT = 7870                 # TCP port; away from Slurm's 6817-6819
CONTROLLER_LISTEN = f"0.0.0.0:{CONTROLLER_PORT}"
CLUSTER_NAME = "jem"
SCHEDULER_INTERVAL_S = 1.0             # seconds between timer-driven scheduling cycles
SCHEDULER_MIN_GAP_S = 0.01             # seconds at least between two cycles: events in a burst share one
KILL_WAIT_S = 30                       # seconds between SIGTERM and SIGKILL (Slurm's KillWait)
MIN_JOB_AGE_S = 300.0                   # seconds a finished job stays in the queue view (Slurm's MinJobAge)
HEARTBEAT_INTERVAL_S = 5.0             # seconds between agent heartbeats
NODE_TIMEOUT_S = 30.0                  # seconds without heartbeat before a node is DOWN
LAUNCH_GRACE_S = 10.0                  # seconds a launched job may be missing from heartbeats
STORE_SYNCHRONOUS = "normal"           # SQLite synchronous mode: "normal" or "full"
PRIORITY_BASE = 1_000_000              # priority of a job with nice 0 (until multifactor priority)
MAX_ARRAY_SIZE = 1001                 # tasks in one job array (Slurm's MaxArraySize, but counting tasks)
MAX_JOB_COUNT = 100_000                # jobs in the queue view at once (Slurm's MaxJobCount)
SCHEDULER_POLICY = "easy"              # "fcfs", "easy" or "conservative" backfill
RESERVATION_DEPTH = 1                  # jobs that hold a reservation under "easy" (Slurm's bf depth)
PRIORITY_MAX_AGE_S = 7 * 86400         # seconds of queue age at which the age factor reaches 1 (PriorityMaxAge)
FAIRSHARE_ALGORITHM = "fair_tree"      # "fair_tree" or "classic"
FAIRSHARE_HALF_LIFE_S = 7 * 86400      # seconds for past usage to count half (PriorityDecayHalfLife)
ACCOUNT_SHARES = 1                     # shares of an account or user not configured
USAGE_SAVE_INTERVAL_S = 60.0           # seconds between saves of fair-share usage to the state dir


def state_dir() -> str:
    """The state directory used when none is named: $JEM_STATE_DIR, else ~/.jem."""
    return os.environ.get("JEM_STATE_DIR") or os.path.join(os.path.expanduser("~"), ".jem")
