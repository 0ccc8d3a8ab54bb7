"""The Slurm command lines whose output JEM must match, and how outputs are normalized for comparison.

Run as a script with a real Slurm first on PATH (see ../shared/slurm-ref) to
(re)capture the golden files:

    bash ../shared/slurm-ref/up.sh
    python tests/e2e/slurm_cases.py tests/e2e/golden/slurm.json [CASE ...]   # CASEs: recapture only those

(JEM's shims off PATH.) Capture on a controller with no other jobs: the sinfo cases want idle nodes,
and `squeue --json` lists every job. Job ids of three digits keep the golden file's padding around
"<id>.batch" (the test allows any, a recapture is then identical).
It submits the SETUP jobs first (held: `sbatch -H`, failed: exits 3, done: exits 0,
array: a held array 1-4%2, cancelled: cancelled once running, held2 and held3: pending until a
begin time an hour away; each with the user's name as account), waits for the short ones to reach
accounting, then runs every case in order. LATE_SETUP jobs (running: a sleep in partition debug;
requeued: one requeued once running) are submitted, and waited for until they run, by the first case
that needs them: the cases that need it
come after the sinfo cases, whose nodes must all be idle. Placeholders {held} {failed} ... in a case
stand for those job ids; in the captured text, job ids, times, the user and the working directory
become placeholders too, so the same file compares against any cluster. A few cases are compared
after a normalization of their own: KEYS_ONLY, PICK_KEYS, CONFIG_KEYS, JSON_SHAPE, RUN_VALUES,
NODE_SIZE.
PENDING_CASES are cases JEM does not match yet; test_slurm_golden.py skips them.
"""

import json
import os
import re
import subprocess
import sys
import time

# The account is the user's name: Slurm's reference cluster has an account per user (root's is "root"),
# and the normalization then treats both alike.
SETUP = {
    "held": ["sbatch", "--parsable", "-H", "-A", "{user}", "-o", "/dev/null", "--wrap", "true"],
    "failed": ["sbatch", "--parsable", "-J", "fail3", "-A", "{user}", "-o", "/dev/null", "--wrap", "exit 3"],
    "done": ["sbatch", "--parsable", "-J", "okjob", "-A", "{user}", "-o", "/dev/null", "--wrap", "true"],
    "array": ["sbatch", "--parsable", "-H", "-J", "arr", "--array=1-4%2", "-A", "{user}", "-o", "/dev/null",
              "--wrap", "true"],
    # cancelled once it runs (submit_setup does it): ends CANCELLED, its batch step killed by SIGTERM (0:15)
    "cancelled": ["sbatch", "--parsable", "-J", "cancelme", "-A", "{user}", "-o", "/dev/null", "--wrap", "sleep 300"],
    # pending (Reason=BeginTime) until an hour from now: held by the cases (scontrol hold / uhold)
    "held2": ["sbatch", "--parsable", "-J", "held2", "--begin=now+1hour", "-A", "{user}", "-o", "/dev/null",
              "--wrap", "true"],
    "held3": ["sbatch", "--parsable", "-J", "held3", "--begin=now+1hour", "-A", "{user}", "-o", "/dev/null",
              "--wrap", "true"],
}
# Submitted by the first case that names them (prepare_case), and waited for until they run.
LATE_SETUP = {
    "running": ["sbatch", "--parsable", "-J", "runner", "-t", "10", "-A", "{user}", "-o", "/dev/null",
                "--wrap", "sleep 300"],
    # requeued once running (scontrol requeue), then waited for until accounting has its earlier run
    "requeued": ["sbatch", "--parsable", "-J", "requeueme", "-A", "{user}", "-o", "/dev/null", "--wrap", "sleep 300"],
}
REQUEUED_ONCE = {"requeued"}
_PLACEHOLDERS = "|".join([*SETUP, *LATE_SETUP])
_COMMANDS = ["sbatch", "squeue", "sacct", "scontrol", "sinfo", "scancel", "srun", "sacctmgr", "sprio", "sshare",
             "salloc", "sstat", "sdiag", "sreport", "sattach", "sbcast", "strigger"]
NO_SHEBANG = "echo hi\n"

# (name, argv, stdin) -- argv[0] is the command. Cases named sbatch_error_* must create no job.
CASES = [
    ("sbatch_error_bad_time", ["sbatch", "--time=abc", "--wrap", "true"], None),
    ("sbatch_error_bad_time_short", ["sbatch", "-t", "1:xx", "--wrap", "true"], None),
    ("sbatch_error_negative_memory", ["sbatch", "--mem=-5", "--wrap", "true"], None),
    ("sbatch_error_bad_memory", ["sbatch", "--mem=lots", "--wrap", "true"], None),
    ("sbatch_error_negative_mem_per_cpu", ["sbatch", "--mem-per-cpu=-1", "--wrap", "true"], None),
    ("sbatch_error_missing_script", ["sbatch", "/nonexistent/script.sh"], None),
    ("sbatch_error_no_shebang", ["sbatch"], NO_SHEBANG),
    ("sbatch_error_empty_script", ["sbatch"], ""),
    ("sbatch_error_unknown_partition", ["sbatch", "-p", "nosuch", "--wrap", "true"], None),
    ("sbatch_error_unknown_option", ["sbatch", "--bogus", "--wrap", "true"], None),
    ("sbatch_error_unknown_short_option", ["sbatch", "-Z", "--wrap", "true"], None),
    ("sbatch_error_bad_node_count", ["sbatch", "-N", "abc", "--wrap", "true"], None),
    ("sbatch_error_bad_ntasks", ["sbatch", "-n", "abc", "--wrap", "true"], None),
    ("sbatch_error_zero_cpus_per_task", ["sbatch", "-c", "0", "--wrap", "true"], None),
    ("sbatch_error_bad_begin", ["sbatch", "--begin=garbage", "--wrap", "true"], None),
    ("sbatch_error_bad_signal", ["sbatch", "--signal=abc", "--wrap", "true"], None),
    ("sbatch_error_bad_open_mode", ["sbatch", "--open-mode=bad", "--wrap", "true"], None),
    ("sbatch_error_mem_and_mem_per_cpu", ["sbatch", "--mem=10", "--mem-per-cpu=10", "--wrap", "true"], None),
    ("sbatch_error_bad_array", ["sbatch", "--array=abc", "--wrap", "true"], None),
    ("sbatch_error_backwards_array", ["sbatch", "--array=5-3", "--wrap", "true"], None),
    ("sbatch_error_bad_dependency_type", ["sbatch", "--dependency=foo:1", "--wrap", "true"], None),
    ("sbatch_error_dependency_without_id", ["sbatch", "--dependency=afterok", "--wrap", "true"], None),
    ("squeue_array_collapsed", ["squeue", "-j", "{array}"], None),
    ("squeue_array_one_row_per_task", ["squeue", "-r", "-j", "{array}"], None),
    ("squeue_array_fields", ["squeue", "-j", "{array}", "-o", "%i|%F|%K|%j|%T|%r"], None),
    ("sacct_array_pending", ["sacct", "-X", "-j", "{array}", "-o", "JobID%20,JobName,State"], None),
    ("scontrol_requeue_pending", ["scontrol", "requeue", "{held}"], None),
    ("scontrol_requeue_unknown", ["scontrol", "requeue", "999999"], None),
    ("squeue_default", ["squeue", "-j", "{held}"], None),
    ("squeue_long", ["squeue", "-l", "-j", "{held}"], None),
    ("squeue_noheader", ["squeue", "-h", "-j", "{held}"], None),
    ("squeue_start", ["squeue", "--start", "-j", "{held}"], None),
    ("squeue_format_default_spelled_out", ["squeue", "-j", "{held}", "-o", "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"],
     None),
    ("squeue_format_letters", ["squeue", "-j", "{held}", "-o",
                               "%i|%j|%u|%t|%T|%M|%l|%D|%R|%P|%N|%C|%V|%S|%e|%r|%Z|%.5i|%-3j|%4P|lit"], None),
    ("squeue_Format", ["squeue", "-j", "{held}", "-O",
                       "JobID,Name,State,UserName,Partition,NumNodes,NumCPUs,TimeLimit,TimeUsed,Reason"], None),
    ("squeue_Format_widths", ["squeue", "-j", "{held}", "-O", "Name:5,StateCompact:.4,JobID:.10"], None),
    ("squeue_error_bad_state", ["squeue", "-t", "bogus"], None),
    ("squeue_error_unknown_job", ["squeue", "-j", "999999"], None),
    ("squeue_unknown_partition", ["squeue", "-p", "nosuch"], None),
    ("sacct_default", ["sacct", "-j", "{failed},{done}"], None),
    ("sacct_repeated_j", ["sacct", "-j", "{failed}", "-j", "{done}"], None),
    ("sacct_allocations", ["sacct", "-X", "-j", "{failed},{done}"], None),
    ("sacct_parsable", ["sacct", "-p", "-j", "{failed}"], None),
    ("sacct_parsable2_noheader", ["sacct", "-P", "-n", "-j", "{failed}"], None),
    ("sacct_format_widths", ["sacct", "-j", "{failed}", "-o", "jobid%-20,jobname%30,state%5,exitcode,allocCPUS"],
     None),
    ("sacct_format_fields", ["sacct", "-X", "-j", "{done}", "-o",
                             "JobID,JobName,Partition,State,ExitCode,Elapsed,NNodes,NCPUS,User,Timelimit,Start,End,"
                             "Submit,WorkDir,CPUTime"], None),
    ("sacct_state_filter", ["sacct", "-X", "-j", "{failed},{done}", "-s", "F"], None),
    ("sacct_name_filter", ["sacct", "-X", "-j", "{failed},{done}", "--name", "okjob"], None),
    ("sacct_error_bad_field", ["sacct", "-o", "bogus"], None),
    ("sacct_error_bad_state", ["sacct", "-s", "bogus"], None),
    ("sacct_error_bad_time", ["sacct", "-S", "garbage"], None),
    ("sinfo_partition", ["sinfo", "-p", "debug"], None),
    ("sinfo_nodes", ["sinfo", "-N", "-p", "debug"], None),
    ("sinfo_long", ["sinfo", "-l", "-p", "debug"], None),
    ("sinfo_reasons", ["sinfo", "-R"], None),
    ("sinfo_format", ["sinfo", "-p", "debug", "-o", "%P %a %l %D %t %N"], None),
    ("sinfo_unknown_partition", ["sinfo", "-p", "nosuch"], None),
    ("scancel_unknown_job_is_quiet", ["scancel", "999999"], None),
    ("scancel_signal_unknown_job", ["scancel", "-s", "USR1", "999999"], None),
    ("scancel_error_bad_id", ["scancel", "abc"], None),
    ("scancel_error_nothing", ["scancel"], None),
    ("scancel_error_bad_user", ["scancel", "-u", "nosuchuser"], None),
    ("scancel_error_bad_state", ["scancel", "-t", "bogus", "-u", "root"], None),
    ("scancel_error_bad_signal", ["scancel", "--signal=BOGUS", "999999"], None),
    ("scontrol_show_job_keys", ["scontrol", "show", "job", "{failed}"], None),
    ("scontrol_show_partition_keys", ["scontrol", "show", "partition", "debug"], None),
    ("scontrol_hostnames", ["scontrol", "show", "hostnames", "n[1-3],x5"], None),
    ("scontrol_error_unknown_job", ["scontrol", "show", "job", "999999"], None),
    ("scontrol_error_hold_unknown_job", ["scontrol", "hold", "999999"], None),
    ("scontrol_error_bad_time_limit", ["scontrol", "update", "JobId={held}", "TimeLimit=abc"], None),
    ("scontrol_error_bad_partition", ["scontrol", "update", "JobId={held}", "Partition=nosuch"], None),
    ("scontrol_error_bad_entity", ["scontrol", "show", "bogus"], None),
    ("scontrol_error_bad_keyword", ["scontrol", "bogus"], None),
]
# Added for the differences found between JEM and Slurm 22.05 (issue 12).
NEW_CASES = [
    *[(f"{command}_version{suffix}", [command, flag], None)
      for command in _COMMANDS for suffix, flag in (("", "--version"), ("_short", "-V"))],
    # jobs that ended: FAILED (NonZeroExitCode), COMPLETED, CANCELLED
    ("squeue_all_ended", ["squeue", "-t", "all", "-j", "{failed},{done},{cancelled}"], None),
    ("squeue_all_ended_Format", ["squeue", "-t", "all", "-j", "{failed},{done},{cancelled}", "-O",
                                 "JobID,State,Reason"], None),
    ("squeue_all_ended_format", ["squeue", "-t", "all", "-j", "{failed},{done},{cancelled}", "-o", "%i %T %r"],
     None),
    ("sacct_cancelled", ["sacct", "-j", "{cancelled}"], None),
    ("sacct_cancelled_exit_codes", ["sacct", "-j", "{cancelled}", "-o", "JobID,State,ExitCode,DerivedExitCode"],
     None),
    ("sacct_cancelled_by", ["sacct", "-X", "-j", "{cancelled}", "-o", "JobID,State%20,ExitCode,DerivedExitCode"],
     None),
    ("sacct_long_header", ["sacct", "--long", "-j", "999999"], None),
    ("sacct_helpformat", ["sacct", "--helpformat"], None),
    # JSON: compared by shape (JSON_SHAPE). squeue --json lists every job (22.05 ignores -j there).
    ("squeue_json", ["squeue", "--json"], None),
    ("sinfo_json", ["sinfo", "--json"], None),
    ("sacct_json", ["sacct", "--json", "-j", "{failed},{done},{cancelled}"], None),
    ("sinfo_nodes_long", ["sinfo", "-N", "-l", "-p", "debug"], None),
    # unknown options: getopt's line, then Slurm's "Try ... --help" (not sacct's), and the exit code
    ("scontrol_error_json_option", ["scontrol", "--json", "show", "job"], None),
    *[(f"{command}_error_unknown_option_alone" if command == "sbatch" else f"{command}_error_unknown_option",
       [command, "--bogus"], None) for command in _COMMANDS if command != "scontrol"],
    ("scontrol_help", ["scontrol", "--help"], None),
    ("squeue_usage", ["squeue", "--usage"], None),
    ("sinfo_usage", ["sinfo", "--usage"], None),
    ("scontrol_hostnames_empty", ["scontrol", "show", "hostnames", ""], None),
    ("scontrol_hostnames_none", ["scontrol", "show", "hostnames"], None),  # and no SLURM_JOB_NODELIST
    ("scontrol_show_node_keys", ["scontrol", "show", "node", "n1"], None),
    ("scontrol_show_config_keys", ["scontrol", "show", "config"], None),
    # holds: an admin hold (root) and a user hold of jobs pending for their begin time
    ("squeue_reason_begin_time", ["squeue", "-j", "{held2}", "-o", "%i %r"], None),
    ("scontrol_hold", ["scontrol", "hold", "{held2}"], None),
    ("squeue_reason_held_admin", ["squeue", "-j", "{held2}", "-o", "%i %r"], None),
    ("scontrol_show_job_held_admin", ["scontrol", "show", "job", "{held2}"], None),
    ("scontrol_uhold", ["scontrol", "uhold", "{held3}"], None),
    ("squeue_reason_held_user", ["squeue", "-j", "{held3}", "-o", "%i %r"], None),
    ("scontrol_show_job_held_user", ["scontrol", "show", "job", "{held3}"], None),
    # the time limit of a running job, changed by root: lowered, raised, by increments
    ("squeue_running_time_limit", ["squeue", "-j", "{running}", "-o", "%i %T %l"], None),
    ("scontrol_update_running_time_limit_lower", ["scontrol", "update", "JobId={running}", "TimeLimit=5"], None),
    ("squeue_running_time_limit_lowered", ["squeue", "-j", "{running}", "-o", "%i %T %l"], None),
    ("scontrol_show_job_time_limit_lowered", ["scontrol", "show", "job", "{running}"], None),
    ("scontrol_update_running_time_limit_raise", ["scontrol", "update", "JobId={running}", "TimeLimit=30"], None),
    ("squeue_running_time_limit_raised", ["squeue", "-j", "{running}", "-o", "%i %T %l"], None),
    ("scontrol_show_job_time_limit_raised", ["scontrol", "show", "job", "{running}"], None),
    ("scontrol_update_running_time_limit_plus", ["scontrol", "update", "JobId={running}", "TimeLimit=+10"], None),
    ("squeue_running_time_limit_plus", ["squeue", "-j", "{running}", "-o", "%i %T %l"], None),
    ("scontrol_update_running_time_limit_minus", ["scontrol", "update", "JobId={running}", "TimeLimit=-15"],
     None),
    ("squeue_running_time_limit_minus", ["squeue", "-j", "{running}", "-o", "%i %T %l"], None),
    ("scontrol_update_running_time_limit_unlimited", ["scontrol", "update", "JobId={running}",
                                                      "TimeLimit=UNLIMITED"], None),
    ("scontrol_show_job_time_limit_unlimited", ["scontrol", "show", "job", "{running}"], None),
    # sstat of a job with no step running, of no job, and its field list
    ("sstat_ended_job", ["sstat", "-j", "{done}"], None),
    ("sstat_error_no_job", ["sstat"], None),
    ("sstat_helpformat", ["sstat", "--helpformat"], None),
    ("sstat_e", ["sstat", "-e"], None),
    # a job requeued while running: its earlier run is a REQUEUED record (its batch step killed, 0:15),
    # listed with -D or a state filter naming REQUEUED (its latest record, pending or running again, not)
    ("sacct_requeued_duplicates", ["sacct", "-D", "-s", "RQ", "-j", "{requeued}"], None),
    ("sacct_requeued_state_filter", ["sacct", "-s", "RQ", "-X", "-P", "-j", "{requeued}", "-o",
                                     "JobID,JobName,State,ExitCode,DerivedExitCode,AllocCPUS,NNodes,Reason"], None),
]
CASES += NEW_CASES
_SORTED_RC = "{{ %s; echo rc=$?; }} 2>&1 | sort"   # a step's lines whose order between its tasks varies, and srun's rc
_TMP = "d=$(mktemp -d); %s; rm -r $d"              # a command in a scratch directory of its own
_PROLOG_EPILOG = ("printf '#!/bin/sh\\necho export FOO=bar baz\\necho print hi\\n' > $d/p; "
                  "printf '#!/bin/sh\\necho epi >&2\\nexit 3\\n' > $d/e; chmod +x $d/p $d/e; ")
# srun (issue 12): options, the tasks' environment, input and output, exit codes and Slurm's lines.
SRUN_CASES = [
    ("srun_exit_code", ["srun", "-n2", "sh", "-c", "exit 66"], None),
    ("srun_program_not_found", ["sh", "-c", _SORTED_RC % "srun no-such-program"], None),
    ("srun_env_names", ["sh", "-c", "srun -n1 env | sed -n 's/^\\(SLURM[A-Z_]*\\|SRUN_DEBUG\\|TMPDIR\\)=.*/\\1/p' "
                                    "| grep -v -x -E 'SLURM_(CONF|WORKING_CLUSTER|JOB_ACCOUNT)' | sort"], None),
    ("srun_stdin_to_all_tasks", ["sh", "-c", "srun -n3 -l cat | sort"], "hi\n"),
    ("srun_stdin_to_one_task", ["srun", "-n3", "-l", "-i", "1", "cat"], "hi\n"),
    ("srun_stdin_none", ["srun", "-n2", "-i", "none", "cat"], "hi\n"),
    ("srun_output_of_one_task", ["sh", "-c", "srun -n3 -l -o 1 sh -c 'echo o; echo e >&2' | sort"], None),
    ("srun_output_none", ["srun", "-n2", "-o", "none", "sh", "-c", "echo o; echo e >&2"], None),
    ("srun_output_one_file", ["sh", "-c", _TMP % "srun -n3 -l -o $d/all.txt sh -c 'echo o$SLURM_PROCID; "
                                                 "echo e$SLURM_PROCID >&2'; sort $d/all.txt"], None),
    ("srun_output_file_per_task", ["sh", "-c", _TMP % "srun -n2 -o $d/out-%t.txt -e $d/err-%t.txt sh -c "
                                                      "'echo o$SLURM_PROCID; echo e$SLURM_PROCID >&2'; cd $d; "
                                                      "head out-* err-*"], None),
    # (slurmstepd reads the configuration from the node's file system: a file, not srun's stdin)
    ("srun_multi_prog_labels", ["sh", "-c", _TMP % "cat > $d/c.conf; srun -n4 -l --multi-prog $d/c.conf | sort"],
     "# comment\n0 echo zero %t\n1-2 echo one-two %t %o\n* echo 'rest %t' %t\n"),
    ("srun_multi_prog_missing_task", ["srun", "-n2", "--multi-prog", "/dev/stdin"], "0 echo zero\n"),
    ("srun_multi_prog_star_not_last", ["srun", "-n2", "--multi-prog", "/dev/stdin"], "* echo a\n0 echo b\n"),
    ("srun_multi_prog_bad_range", ["srun", "-n2", "--multi-prog", "/dev/stdin"], "0-5 echo a\n"),
    ("srun_multi_prog_no_file", ["srun", "-n2", "--multi-prog", "/nonexistent/silly.conf"], None),
    ("srun_wait_kills_the_rest", ["sh", "-c", _SORTED_RC % "srun -n2 -W 1 sh -c '[ $SLURM_PROCID = 0 ] || sleep 60'"],
     None),
    ("srun_kill_on_bad_exit", ["sh", "-c", _SORTED_RC % "srun -n3 -K sh -c '[ $SLURM_PROCID != 1 ] || exit 5; "
                                                        "sleep 60'"], None),
    ("srun_umask_and_limits", ["sh", "-c", "umask 027; ulimit -S -n 512; srun -n1 sh -c 'umask; ulimit -S -n; "
                                           "echo $SLURM_UMASK; env | grep -c ^SLURM_RLIMIT_ || true'"], None),
    ("srun_error_bad_propagate", ["srun", "--propagate=NOFILE,BOGUS", "true"], None),
    ("srun_error_bad_wait", ["srun", "-W", "abc", "true"], None),
    ("srun_error_bad_mincpus", ["srun", "--mincpus=abc", "true"], None),
    ("srun_error_bad_tmp", ["srun", "--tmp=abc", "true"], None),
    ("srun_error_bad_immediate", ["srun", "-Iabc", "true"], None),
    ("srun_error_bad_open_mode", ["srun", "--open-mode=sideways", "true"], None),
    ("srun_overcommit", ["sh", "-c", "srun -O -N1 -n20 -c2 sh -c 'echo $SLURM_CPUS_ON_NODE $SLURM_OVERCOMMIT' "
                                     "| sort | uniq -c"], None),
    ("srun_too_many_tasks_for_a_node", ["srun", "-N1", "-n40", "true"], None),
    ("srun_sbatch_overcommit", ["sh", "-c", _TMP % "sbatch -O -N1 -n40 --wait -o $d/o --wrap 'echo $SLURM_NTASKS "
                                                   "$SLURM_CPUS_ON_NODE $SLURM_TASKS_PER_NODE $SLURM_OVERCOMMIT; "
                                                   "srun hostname | wc -l' >/dev/null; cat $d/o"], None),
    ("srun_task_prolog_epilog", ["sh", "-c", _TMP % (_PROLOG_EPILOG + _SORTED_RC % "srun -n1 --task-prolog=$d/p "
                                                     "--task-epilog=$d/e sh -c 'echo FOO=$FOO; exit 4'")], None),
    ("srun_task_prolog_not_absolute", ["sh", "-c", _SORTED_RC % "srun -n1 --task-prolog=prolog.sh true"], None),
    ("srun_sbatch_umask_and_limits", ["sh", "-c", _TMP % "umask 027; ulimit -S -n 512; sbatch --wait -o $d/o --wrap "
                                                         "'umask; ulimit -S -n; env | grep -c \"^SLURM_UMASK\\|^SLURM_"
                                                         "RLIMIT\"' >/dev/null; cat $d/o; stat -c %a $d/o"], None),
]
CASES += SRUN_CASES
# The new cases JEM does not match yet (none since issue 12; JEM_GOLDEN_PENDING=1 runs them).
PENDING_CASES: set[str] = set()
# Compared by their key names only: the values describe two different clusters.
KEYS_ONLY = {"scontrol_show_job_keys", "scontrol_show_partition_keys", "scontrol_show_node_keys"}
# scontrol show records of which only these Key=value pairs are compared.
PICK_KEYS = {
    "scontrol_show_job_held_admin": ("JobState", "Reason", "Priority"),
    "scontrol_show_job_held_user": ("JobState", "Reason", "Priority"),
    **{f"scontrol_show_job_time_limit_{how}": ("JobState", "TimeLimit") for how in ("lowered", "raised", "unlimited")},
}
# `scontrol show config`: its key names (values describe the cluster), section lines, the controller line.
CONFIG_KEYS = {"scontrol_show_config_keys"}
# JSON documents compared by their shape: keys, nesting, order and value types (json_shape).
JSON_SHAPE = {"squeue_json", "sinfo_json", "sacct_json"}
# Values of a run (elapsed M:SS, the node a job ran on) become placeholders.
RUN_VALUES = {"squeue_all_ended"}
# A node's size (CPUs, sockets:cores:threads, memory) becomes placeholders: the reference's nodes are
# 16 CPUs and 4096 MB, the e2e cluster's 4 and 2048.
NODE_SIZE = {"sinfo_nodes_long"}
# A step's node names, job ids and the cluster's kill wait (Slurm's KillWait + 2 s) become placeholders.
SRUN_VALUES = {name for name, _, _ in SRUN_CASES}
# Key=value pairs JEM does not print (Slurm's own bookkeeping); dropped from Slurm's side before comparing.
SLURM_ONLY_KEYS = {"OverSubscribe", "JobDefaults"}


def normalize(text: str, ids: dict[str, str], *, user: str, cwd: str) -> str:
    """Replace what differs between two clusters (ids, times, user, cwd) with placeholders."""
    text = re.sub(r"\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\b", "{time}", text)
    text = re.sub(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$", "{date}", text, flags=re.M)
    text = text.replace(cwd, "{cwd}")
    # Debian builds Slurm as package "slurm-wlm": upstream's --version says "slurm 22.05.8".
    text = re.sub(r"^slurm-wlm (\d+\.\d+\.\d+)$", r"slurm \1", text, flags=re.M)
    text = re.sub(rf"\bby {os.getuid()}\b", "by {uid}", text)  # sacct's "CANCELLED by <uid>"
    for name, job_id in sorted(ids.items(), key=lambda item: -len(item[1])):
        text = re.sub(rf"(?<![\d.]){job_id}(?=[._|\s]|$)", "{" + name + "}", text)
    text = re.sub(rf"(?<![\w/]){re.escape(user)}(?![\w/])", "{user}", text)
    # A placeholder stands for a value of another width: forget the padding around it.
    return re.sub(rf" *(\{{(?:{_PLACEHOLDERS}|user|cwd)\}}) *", r" \1 ", text)


def keys_only(text: str) -> str:
    """Each line's key names (`JobId= JobName=`), for records whose values describe different clusters."""
    lines = []
    for line in text.splitlines():
        keys = [k for k in re.findall(r"(?:^|\s)([A-Za-z/:_]+)=", line) if k not in SLURM_ONLY_KEYS]
        if keys:
            lines.append(" ".join(k + "=" for k in keys))
    return "\n".join(lines)


def pick_keys(text: str, keys: tuple[str, ...]) -> str:
    """Only the `keys`' Key=value pairs of a `scontrol show` record, one a line, in the record's order."""
    return "\n".join(f"{k}={v}" for k, v in re.findall(r"(?:^|\s)([A-Za-z/:_]+)=(\S*)", text) if k in keys)


def config_keys(text: str) -> str:
    """`scontrol show config`'s key names (`Key =`), its section lines and its controller line, host made {host}."""
    lines = []
    for line in text.splitlines():
        key = re.match(r"^(\S+?)\s*= ", line)
        if key:
            lines.append(key.group(1) + " =")
        elif line.strip():
            lines.append(re.sub(r"^(Slurmctld\(\w+\)) at \S+ is ", r"\1 at {host} is ", line.rstrip()))
    return "\n".join(lines)


def json_shape(text: str, job_ids: set[str] | None = None) -> str:
    """A JSON document's shape: the same keys, nesting and order, each value replaced by its type's name
    (int, float, str, bool, null); a list holds one element, the union of its elements' shapes (a key
    whose values differ in type gets both names, "int|null"); a list that is empty stays []; an object
    keyed by numbers (squeue's cores by index) becomes {"<n>": the union of its values}. Text that is
    no JSON is returned as it is. With `job_ids`, a top-level "jobs" list keeps only those jobs (by
    job_id or array_job_id): squeue --json lists every job, and other jobs' states change the union."""
    try:
        document = json.loads(text)
    except ValueError:
        return text
    if job_ids and isinstance(document, dict) and isinstance(document.get("jobs"), list):
        document["jobs"] = [job for job in document["jobs"] if isinstance(job, dict) and
                            {str(job.get("job_id")), str(job.get("array_job_id"))} & job_ids]
    return json.dumps(_shape(document), indent=1) + "\n"


def _shape(value):
    if isinstance(value, dict) and value and all(k.isdigit() for k in value):  # a map keyed by number (cores)
        return {"<n>": _merged([_shape(v) for v in value.values()])}
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_merged([_shape(v) for v in value])] if value else []
    return {bool: "bool", int: "int", float: "float", str: "str", type(None): "null"}[type(value)]


def _merged(shapes: list):
    dicts = [s for s in shapes if isinstance(s, dict)]
    lists = [s for s in shapes if isinstance(s, list)]
    scalars = sorted({t for s in shapes if isinstance(s, str) for t in s.split("|")})
    parts = []
    if dicts:
        order: list[str] = []  # each key after the one before it in the first object that has it
        values: dict[str, list] = {}
        for d in dicts:
            previous = None
            for k, v in d.items():
                if k not in values:
                    order.insert(order.index(previous) + 1 if previous is not None else 0, k)
                    values[k] = []
                values[k].append(v)
                previous = k
        parts.append({k: _merged(values[k]) for k in order})
    if lists:
        inner = [x for lst in lists for x in lst]
        parts.append([_merged(inner)] if inner else [])
    if scalars:
        parts.append("|".join(scalars))
    return parts[0] if len(parts) == 1 else {"<one of>": parts}


def node_size(text: str) -> str:
    """`sinfo -N -l`'s CPUS, S:C:T and MEMORY columns as placeholders: they describe the cluster."""
    return re.sub(r"(?<= )\d+ +\d+:\d+:\d+ +\d+(?= )", "{cpus} {S:C:T} {memory}", text)


def run_values(text: str) -> str:
    """squeue's elapsed times (M:SS) and a job's node (last column) as placeholders: they vary by run."""
    text = re.sub(r" +\d+:\d\d(?= )", " {elapsed}", text)
    return re.sub(r"(?<= )n(?:\d+|\[[\d,-]+\])$", "{node}", text, flags=re.M)


def srun_values(text: str) -> str:
    """A step's nodes, its job id and the kill wait as placeholders: they vary by run and cluster."""
    text = re.sub(r"\bn\d+\b", "{node}", text)
    text = re.sub(r"(StepId=|STEP )\d+\.", r"\1{job}.", text)
    return re.sub(r"Waiting up to \d+ seconds", "Waiting up to {kill_wait} seconds", text)


def run_case(argv: list[str], stdin: str | None, ids: dict[str, str], *, env=None, cwd=None) -> dict:
    argv = [a.format(**ids) for a in argv]
    result = subprocess.run(argv, input=stdin if stdin is not None else "", capture_output=True, text=True,
                            env=env, cwd=cwd, timeout=60)
    return {"rc": result.returncode, "stdout": result.stdout, "stderr": result.stderr}


def expected_pattern(text: str, ids: dict[str, str]) -> str:
    """A regex for golden `text` with its job-id placeholders standing for `ids`, padding free.

    Used instead of normalizing ids in JEM's output, where small ids (1, 2)
    would collide with other numbers.
    """
    parts = re.split(rf" (\{{(?:{_PLACEHOLDERS})\}}) ", text)
    pattern = "".join(re.escape(part) if i % 2 == 0 else rf" *{ids[part[1:-1]]} *" for i, part in enumerate(parts))
    # A left-justified column holding "<id>.batch" pads by the id's width.
    return pattern.replace(r" *\.batch\ ", r" *\.batch\ *")


def compared(name: str, result: dict, ids: dict[str, str], *, user: str, cwd: str) -> dict:
    result = dict(result)
    if name in JSON_SHAPE:  # before the placeholders, which would make the numbers no JSON
        result["stdout"] = json_shape(result["stdout"], set(ids.values()))
    out = {k: normalize(result[k], ids, user=user, cwd=cwd) if k != "rc" else result[k] for k in result}
    if name in KEYS_ONLY:
        out["stdout"] = keys_only(out["stdout"])
    if name in PICK_KEYS:
        out["stdout"] = pick_keys(out["stdout"], PICK_KEYS[name])
    if name in CONFIG_KEYS:
        out["stdout"] = config_keys(out["stdout"])
    if name in RUN_VALUES:
        out["stdout"] = run_values(out["stdout"])
    if name in NODE_SIZE:
        out["stdout"] = node_size(out["stdout"])
    if name in SRUN_VALUES:
        out["stdout"], out["stderr"] = srun_values(out["stdout"]), srun_values(out["stderr"])
    return out


def _user() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def _submit(argv: list[str], *, env=None, cwd=None) -> str:
    return subprocess.run([a.format(user=_user()) for a in argv], capture_output=True, text=True, check=True,
                          env=env, cwd=cwd).stdout.strip()


def wait_state(job_id: str, states: set[str], *, env=None, cwd=None, timeout_s: float = 60.0) -> str:
    """Poll `squeue -t all` until the job is in one of `states`; returns the last state seen (no error)."""
    deadline = time.monotonic() + timeout_s
    state = ""
    while time.monotonic() < deadline:
        state = subprocess.run(["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T"], capture_output=True,
                               text=True, env=env, cwd=cwd, timeout=60).stdout.strip()
        if state in states:
            break
        time.sleep(0.2)
    return state


def submit_setup(*, env=None, cwd=None) -> dict[str, str]:
    ids = {name: _submit(argv, env=env, cwd=cwd) for name, argv in SETUP.items()}
    wait_state(ids["cancelled"], {"RUNNING"}, env=env, cwd=cwd)
    subprocess.run(["scancel", ids["cancelled"]], capture_output=True, env=env, cwd=cwd, timeout=60)
    wait_state(ids["cancelled"], {"CANCELLED"}, env=env, cwd=cwd)
    return ids


def prepare_case(argv: list[str], ids: dict[str, str], *, env=None, cwd=None) -> None:
    """Submit the LATE_SETUP jobs `argv` names and not yet submitted (into `ids`), and wait until they run
    (those of REQUEUED_ONCE: requeue them then, and wait until accounting has their earlier run)."""
    for name, setup in LATE_SETUP.items():
        if name not in ids and any("{" + name + "}" in a for a in argv):
            ids[name] = _submit(setup, env=env, cwd=cwd)
            wait_state(ids[name], {"RUNNING"}, env=env, cwd=cwd)
            if name in REQUEUED_ONCE:
                subprocess.run(["scontrol", "requeue", ids[name]], capture_output=True, env=env, cwd=cwd, timeout=60)
                _wait_requeued_record(ids[name], env=env, cwd=cwd)


def _wait_requeued_record(job_id: str, *, env=None, cwd=None, timeout_s: float = 60.0) -> None:
    """Poll sacct until the job's earlier run is in accounting (a REQUEUED record)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = subprocess.run(["sacct", "-n", "-X", "-D", "-s", "RQ", "-j", job_id, "-o", "State"],
                               capture_output=True, text=True, env=env, cwd=cwd, timeout=60).stdout
        if "REQUEUED" in found:
            return
        time.sleep(0.2)


def _capture(path: str, names: list[str]) -> None:
    """Run every case and write the golden file; with `names`, replace only those cases in the existing file
    (every case still runs: some act on the jobs the ones after them show)."""
    cwd = os.getcwd()
    user = _user()
    others = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i"], capture_output=True, text=True).stdout.split()
    if others:
        print(f"note: {len(others)} other jobs in the controller: squeue --json lists them, and nodes they use are"
              " not idle in the sinfo cases", file=sys.stderr)
    ids = submit_setup()
    time.sleep(5)  # the short jobs end and reach slurmdbd
    golden = {}
    for name, argv, stdin in CASES:
        prepare_case(argv, ids)
        golden[name] = {"argv": argv, "stdin": stdin,
                        **compared(name, run_case(argv, stdin, ids), ids, user=user, cwd=cwd)}
    subprocess.run(["scancel", ids["held"], ids["array"], ids["held2"], ids["held3"],
                    *[ids[name] for name in LATE_SETUP if name in ids]], check=False)
    if names:
        with open(path) as f:
            kept = json.load(f)
        golden = {name: golden[name] if name in names else kept[name] for name in golden if name in kept or
                  name in names}
    with open(path, "w") as f:
        json.dump(golden, f, indent=1, sort_keys=False)
        f.write("\n")


if __name__ == "__main__":
    _capture(sys.argv[1], sys.argv[2:])
