"""Every default value of JEM's configuration, each with its unit, in one place."""

import os

CONTROLLER_PORT = 7870                 # TCP port; away from Slurm's 6817-6819
CONTROLLER_LISTEN = f"127.0.0.1:{CONTROLLER_PORT}"   # loopback: a real cluster names its address
CLUSTER_NAME = "jem"
SCHEDULER_INTERVAL_S = 1.0             # seconds between timer-driven scheduling cycles
# Seconds at least between two cycles, so that events in a burst share one. Short: after a cycle of T
# the loop rests 2T anyway (jem.controller.loop), and every ms of it is a ms an idle cluster's next job
# (an salloc's grant) waits; 10 ms made `salloc --no-shell` ~7 ms slower.
SCHEDULER_MIN_GAP_S = 0.003
KILL_WAIT_S = 30                       # seconds between SIGTERM and SIGKILL (Slurm's KillWait)
MIN_JOB_AGE_S = 300.0                   # seconds a finished job stays in the queue view (Slurm's MinJobAge)
HEARTBEAT_INTERVAL_S = 5.0             # seconds between agent heartbeats
NODE_TIMEOUT_S = 30.0                  # seconds without heartbeat before a node is DOWN (no new work)
NODE_DEAD_TIMEOUT_S = 300.0            # seconds without heartbeat before its jobs are requeued or end NODE_FAIL
                                       # (Slurm's default SlurmdTimeout); until then they stay RUNNING
LAUNCH_GRACE_S = 10.0                  # seconds a launched job may be missing from heartbeats
STORE_SYNCHRONOUS = "normal"           # SQLite synchronous mode: "normal" or "full"
PRIORITY_BASE = 1_000_000              # priority of a job with nice 0 (until multifactor priority)
MAX_ARRAY_SIZE = 1001                 # tasks in one job array (Slurm's MaxArraySize, but counting tasks)
MAX_JOB_COUNT = 100_000                # jobs in the queue view at once (Slurm's MaxJobCount)
SCHEDULER_POLICY = "easy"              # "fcfs", "easy" or "conservative" backfill
RESERVATION_DEPTH = 1                  # jobs that hold a reservation under "easy" (Slurm's bf depth)
PREEMPT_REQUEUE_DELAY_S = 1201         # a job requeued by preemption is eligible again this much later (Slurm's)
PREEMPT_SEND_USER_SIGNAL = False       # PreemptParameters=send_user_signal: a victim gets its --signal at once
ESTIMATE_DEPTH = 5000                  # waiting jobs given an exact estimated start each cycle, at most
ESTIMATE_BUDGET_MS = 100               # ... and the time those estimates may take; the rest get forecasts
PRIORITY_MAX_AGE_S = 7 * 86400         # seconds of queue age at which the age factor reaches 1 (PriorityMaxAge)
FAIRSHARE_ALGORITHM = "fair_tree"      # "fair_tree" or "classic"
FAIRSHARE_HALF_LIFE_S = 7 * 86400      # seconds for past usage to count half (PriorityDecayHalfLife)
ACCOUNT_SHARES = 1                     # shares of an account or user not configured
USAGE_SAVE_INTERVAL_S = 60.0           # seconds between saves of fair-share usage to the state dir
JOB_WORKING_DIR = "/tmp"               # where a job runs when its spec names no working directory
MAX_MESSAGE_BYTES = 64 << 20           # the largest gRPC message an agent accepts (a launch with its script)
NODE_ADDRESS_FILE = "node.addr"        # in the state dir: where agents reach the controller


def state_dir() -> str:
    """The state directory used when none is named: $JEM_STATE_DIR, else ~/.jem."""
    return os.environ.get("JEM_STATE_DIR") or os.path.join(os.path.expanduser("~"), ".jem")
TOKEN_LIFETIME_S = 60.0                # seconds a credential-service token is valid (and remembered against replay)
JOB_SIGNATURE_LIFETIME_S = 30 * 86400.0   # seconds a user's signature over a job stays valid (how long it may pend)
# Seconds a user's signature over a scrontab entry's job stays valid: the entry runs on its schedule that long
# after `scrontab` installed it (a leap year: a yearly entry runs at least once); installing again renews it.
CRON_SIGNATURE_LIFETIME_S = 366 * 86400.0
STEP_SIGNATURE_LIFETIME_S = 300.0      # seconds a user's signature over a step stays valid
LAUNCH_CREDENTIAL_LIFETIME_S = 300.0   # seconds a controller's launch credential is valid
AUTH_METHOD = "jem"                    # users' clients use the credential service (or "munge": munged)
API_TOKEN_LIFETIME_S = 1800            # seconds a `jem token` JWT lives by default (scontrol token's 1800)
API_TOKEN_MAX_LIFETIME_S = 365 * 86400  # the longest lifespan `jem token` grants
SECURITY_DIR = "/etc/jem"              # keys and certificates of a real cluster
