#!/usr/bin/env bash
# A minute with JEM: start a 4-node cluster on this machine, run a few jobs
# through it, show their output and the queue, and stop everything again.
set -euo pipefail
OWN_STATE=$([ -z "${JEM_STATE_DIR:-}" ] && echo 1 || true)
STATE_DIR=${JEM_STATE_DIR:-$(mktemp -d /tmp/jem-demo.XXXXXX)}
WORK=$(mktemp -d /tmp/jem-demo-work.XXXXXX)
cleanup() {
  jem down --state-dir "$STATE_DIR" >/dev/null 2>&1 || true
  rm -rf "$WORK"
  [ -n "$OWN_STATE" ] && rm -rf "$STATE_DIR"
  return 0
}
trap cleanup EXIT

jem up --nodes 4 --cpus-per-node 2 --mem-per-node 1024 --state-dir "$STATE_DIR"
source "$STATE_DIR/env"
cd "$WORK"

cat > hello.sh <<'SCRIPT'
#!/bin/bash
echo "job $SLURM_JOB_ID ($SLURM_JOB_NAME) on $SLURMD_NODENAME with $SLURM_CPUS_ON_NODE CPUs"
SCRIPT
ids=()
for i in 1 2 3; do
  ids+=("$(jem submit --parsable -J "hello-$i" -c 2 hello.sh)")
done
ids+=("$(jem submit --parsable -J fails --wrap 'echo about to fail; exit 3')")
ids+=("$(jem submit --parsable -J too-long --wrap 'sleep 300')")
# An array of four tasks, two at a time, and a job that runs once all of them succeeded.
array=$(jem submit --parsable -J squares --array=1-4%2 --wrap 'echo $((SLURM_ARRAY_TASK_ID * SLURM_ARRAY_TASK_ID))')
ids+=("$array" "$(jem submit --parsable -J sum -d "afterok:$array" --wrap "cat slurm-${array}_*.out | awk '{s += \$1} END {print \"sum of squares:\", s}'")")
echo "submitted jobs ${ids[*]}"

sleep 1
jem cancel "${ids[4]}"
for _ in $(seq 100); do
  if ! jem jobs | awk 'NR > 1 && ($5 == "PENDING" || $5 == "RUNNING" || $5 == "COMPLETING")' | grep -q .; then break; fi
  sleep 0.1
done
echo; echo "== jem jobs"; jem jobs
echo; echo "== job output"
for f in slurm-*.out; do echo "--- $f"; cat "$f"; done
echo; echo "== a job that asks for more than any node has is refused at submit:"
jem submit -c 64 --wrap true || true
echo; echo "== jem nodes"; jem nodes
