"""The `jem` command as a new user runs it: jem up, submit, jobs, show, cancel, nodes, down."""

import concurrent.futures
import json
import os
import pathlib
import subprocess
import sys
import time

import psutil
import pytest

JEM = [sys.executable, "-m", "jem.cli.main"]


def jem(*args: str, env: dict | None = None, cwd: str | None = None, check: bool = True, stdin: str | None = None):
    result = subprocess.run([*JEM, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120,
                            input=stdin)
    if check and result.returncode != 0:
        raise AssertionError(f"jem {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


def processes_mentioning(text: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE and text in " ".join(process.info["cmdline"] or []):
                found.append(process)
        except psutil.Error:
            pass
    return found


@pytest.fixture(scope="module", autouse=True)
def command_server_dir(tmp_path_factory):
    """The commands' resident server (`jem jobs` and the like run on it) in this module's own runtime
    directory, stopped when the module ends."""
    run_dir = str(tmp_path_factory.mktemp("cmd-run"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JEM_RUNTIME_DIR", run_dir)
        yield run_dir
        jem("slurm-path", "--stop-server", check=False)


@pytest.fixture(scope="module")
def local_cluster(tmp_path_factory):
    """`jem up --nodes 4 --cpus-per-node 4` in a fresh state dir; `jem down` afterwards."""
    root = tmp_path_factory.mktemp("jemup")
    state_dir = str(root / "state")
    out = jem("up", "--nodes", "4", "--cpus-per-node", "4", "--mem-per-node", "2048", "--state-dir", state_dir)
    env = dict(os.environ)
    with open(os.path.join(state_dir, "env")) as f:
        for line in f:
            key, value = line.removeprefix("export ").strip().split("=", 1)
            env[key] = value
    try:
        yield {"state_dir": state_dir, "env": env, "root": str(root), "up_output": out.stdout}
    finally:
        jem("down", "--state-dir", state_dir, check=False)


def test_jem_up_prints_how_to_use_it_and_brings_every_node_up(local_cluster):
    assert "4 nodes" in local_cluster["up_output"]
    assert f"source {local_cluster['state_dir']}/env" in local_cluster["up_output"]
    nodes = json.loads(jem("nodes", "--json", env=local_cluster["env"]).stdout)["nodes"]
    assert [n["name"] for n in nodes] == ["n1", "n2", "n3", "n4"]
    assert all(n["state"] == "IDLE" and n["cpus"] == 4 for n in nodes)
    assert all(n["cgroup_mode"] in ("v1", "v2", "hybrid", "none") for n in nodes)


def test_two_hundred_jobs_each_run_exactly_once(local_cluster, tmp_path):
    env = local_cluster["env"]
    ids_file = tmp_path / "ids.txt"
    script = tmp_path / "job.sh"
    script.write_text(f"#!/bin/sh\necho $SLURM_JOB_ID >> {ids_file}\n")

    def submit(_):
        out = jem("submit", "-o", "/dev/null", str(script), env=env, cwd=str(tmp_path)).stdout
        assert out.startswith("Submitted batch job ")
        return int(out.split()[-1])

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        job_ids = list(pool.map(submit, range(200)))
    assert len(set(job_ids)) == 200
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        jobs = json.loads(jem("jobs", "--json", env=env).stdout)["jobs"]
        states = {j["job_id"]: j["state"] for j in jobs if j["job_id"] in set(job_ids)}
        if len(states) == 200 and all(s == "COMPLETED" for s in states.values()):
            break
        time.sleep(0.5)
    assert sorted(states.values()) == ["COMPLETED"] * 200
    ran = [int(line) for line in ids_file.read_text().split()]
    assert sorted(ran) == sorted(job_ids)  # every job ran, and none twice


def test_submit_show_and_cancel_through_the_cli(local_cluster, tmp_path):
    env = local_cluster["env"]
    out = jem("submit", "--parsable", "-J", "sleeper", "--wrap", "sleep 60", env=env, cwd=str(tmp_path)).stdout
    job_id = out.strip()
    assert job_id.isdigit()
    for _ in range(100):
        shown = json.loads(jem("show", job_id, "--json", env=env).stdout)
        if shown["state"] == "RUNNING":
            break
        time.sleep(0.1)
    assert shown["name"] == "sleeper" and shown["state"] == "RUNNING"
    assert jem("cancel", job_id, env=env).returncode == 0
    for _ in range(100):
        shown = json.loads(jem("show", job_id, "--json", env=env).stdout)
        if shown["state"] == "CANCELLED":
            break
        time.sleep(0.1)
    assert shown["state"] == "CANCELLED"
    text = jem("show", job_id, env=env).stdout
    assert f"JobId={job_id}" in text and "JobState=CANCELLED" in text
    table = jem("jobs", env=env).stdout.splitlines()
    assert table[0].split()[:5] == ["JOBID", "PARTITION", "NAME", "USER", "STATE"]
    assert any(line.split()[0] == job_id and "CANCELLED" in line for line in table[1:])


def test_script_from_stdin_and_output_pattern(local_cluster, tmp_path):
    env = local_cluster["env"]
    out = jem("submit", "-J", "piped", "-o", "out-%x-%j.txt", env=env, cwd=str(tmp_path),
              stdin="#!/bin/sh\necho piped $SLURM_JOB_NAME\n").stdout
    job_id = out.split()[-1]
    path = tmp_path / f"out-piped-{job_id}.txt"
    for _ in range(100):
        if path.exists() and path.read_text():
            break
        time.sleep(0.1)
    assert path.read_text() == "piped piped\n"


@pytest.mark.parametrize("args, message", [
    (["submit", "-c", "64", "--wrap", "true"], "Requested node configuration is not available"),
    (["submit", "-p", "nosuch", "--wrap", "true"], "Invalid partition name specified"),
    (["submit", "-t", "abc", "--wrap", "true"], "invalid time limit 'abc'"),
    (["submit", "--mem", "lots", "--wrap", "true"], "invalid memory size 'lots'"),
    (["show", "999999"], "Invalid job id specified"),
    (["cancel", "999999"], "Invalid job id specified"),
    (["submit", "/nonexistent/script.sh"], "unable to open file /nonexistent/script.sh"),
])
def test_errors_are_one_line_on_stderr_with_exit_1(local_cluster, tmp_path, args, message):
    result = jem(*args, env=local_cluster["env"], cwd=str(tmp_path), check=False)
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_script_without_shebang_is_rejected(local_cluster, tmp_path):
    script = tmp_path / "noshebang.sh"
    script.write_text("echo hi\n")
    result = jem("submit", str(script), env=local_cluster["env"], cwd=str(tmp_path), check=False)
    assert result.returncode == 1 and "does not look like a batch script" in result.stderr


def test_unreachable_controller_is_named_without_a_traceback(local_cluster):
    env = dict(local_cluster["env"], JEM_CONTROLLER="127.0.0.1:1")
    result = jem("jobs", env=env, check=False)
    assert result.returncode == 1
    assert "Unable to contact JEM controller" in result.stderr and "127.0.0.1:1" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unreachable_credential_service_is_named_without_a_traceback(local_cluster, tmp_path):
    env = dict(local_cluster["env"], JEM_AUTHD_SOCKET=str(tmp_path / "none.sock"))
    result = jem("jobs", env=env, check=False)
    assert result.returncode == 1
    assert "cannot reach the credential service" in result.stderr and "none.sock" in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_1_not_2(tmp_path):
    result = jem("cancel", "notanumber", check=False)
    assert result.returncode == 1 and "invalid job id" in result.stderr


def test_jem_down_leaves_no_process(tmp_path):
    state_dir = str(tmp_path / "state")
    jem("up", "--nodes", "2", "--cpus-per-node", "1", "--mem-per-node", "512", "--state-dir", state_dir)
    try:
        with open(os.path.join(state_dir, "pids")) as f:
            pids = json.load(f)
        env = dict(os.environ, JEM_STATE_DIR=state_dir)
        env.pop("JEM_CONTROLLER", None)  # found through the state dir's client.toml
        jem("submit", "--wrap", "sleep 300", env=env, cwd=str(tmp_path))
    finally:
        out = jem("down", "--state-dir", state_dir).stdout
    assert "2 agents, 1 controller" in out
    for pid in [pids["controller"], *pids["agents"].values()]:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert processes_mentioning(state_dir) == []
    assert not os.path.exists(os.path.join(state_dir, "env"))


def test_jem_up_resumes_a_cluster_whose_controller_died_and_its_jobs_go_on(tmp_path):
    state_dir = str(tmp_path / "state")
    jem("up", "--nodes", "2", "--cpus-per-node", "1", "--mem-per-node", "512", "--state-dir", state_dir)
    try:
        env = dict(os.environ, JEM_STATE_DIR=state_dir)
        env.pop("JEM_CONTROLLER", None)
        job_id = jem("submit", "--parsable", "--wrap", "sleep 300", env=env, cwd=str(tmp_path)).stdout.strip()
        _wait(lambda: _job(env, tmp_path, job_id)["state"] == "RUNNING", "the job to run")
        with open(os.path.join(state_dir, "pids")) as f:
            pids = json.load(f)
        job_processes = processes_mentioning("sleep 300")
        psutil.Process(pids["controller"]).kill()
        psutil.Process(pids["controller"]).wait(10)
        out = jem("up", "--nodes", "2", "--state-dir", state_dir).stdout
        assert "resumed" in out and "started the controller and 0 agent(s)" in out
        with open(os.path.join(state_dir, "pids")) as f:
            after = json.load(f)
        assert after["agents"] == pids["agents"] and after["controller"] != pids["controller"]
        assert _job(env, tmp_path, job_id)["state"] == "RUNNING"
        assert all(p.is_running() for p in job_processes)   # the same processes: nothing restarted
        refused = jem("up", "--state-dir", state_dir, check=False)
        assert refused.returncode == 1 and "already running" in refused.stderr
    finally:
        jem("down", "--state-dir", state_dir)
    assert processes_mentioning(state_dir) == []


def test_jem_down_stops_a_controller_started_by_hand(tmp_path):
    state_dir = str(tmp_path / "state")
    jem("up", "--nodes", "1", "--cpus-per-node", "1", "--mem-per-node", "512", "--state-dir", state_dir)
    with open(os.path.join(state_dir, "pids")) as f:
        pids = json.load(f)
    psutil.Process(pids["controller"]).kill()
    psutil.Process(pids["controller"]).wait(10)
    by_hand = subprocess.Popen([*JEM, "controller", "--config", "jem.toml"], cwd=state_dir, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait(lambda: os.path.exists(os.path.join(state_dir, "controller.addr")), "the hand-started controller")
        out = jem("down", "--state-dir", state_dir).stdout
        assert "1 agents, 1 controller" in out
        assert by_hand.wait(30) is not None
        assert processes_mentioning(state_dir) == []
    finally:
        if by_hand.poll() is None:
            by_hand.kill()


def _job(env: dict, cwd, job_id: str) -> dict:
    return json.loads(jem("show", job_id, "--json", env=env, cwd=str(cwd)).stdout)


def _wait(predicate, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_jem_run_makes_a_job_for_its_step_and_jem_steps_lists_it(local_cluster, tmp_path):
    env = {k: v for k, v in local_cluster["env"].items() if not k.startswith(("SLURM_", "JEM_JOB"))}
    result = jem("run", "-n", "2", "-l", "--", "sh", "-c", "echo task $SLURM_PROCID; exit 5", env=env,
                 cwd=str(tmp_path), check=False)
    assert result.returncode == 5
    assert sorted(result.stdout.splitlines()) == ["0: task 0", "1: task 1"]
    assert "task 0 on n1: exit code 5" in result.stderr
    job = json.loads(jem("jobs", "--all", "--json", env=env).stdout)["jobs"][-1]
    steps = json.loads(jem("steps", str(job["job_id"]), "--json", env=env).stdout)["steps"]
    assert [(s["step_id"], s["name"], s["state"], s["exit_code"], s["n_tasks"], s["ends_job"]) for s in steps] == [
        (0, "sh", "FAILED", 5, 2, True)]
    table = jem("steps", str(job["job_id"]), env=env).stdout.splitlines()
    assert table[0].split() == ["STEPID", "NAME", "STATE", "EXIT", "TASKS", "CPUS", "NODES", "START", "ELAPSED"]
    assert table[1].split()[:5] == [f"{job['job_id']}.0", "sh", "FAILED", "5:0", "2"]


def test_slurm_path_install_writes_the_commands_for_everyone_and_spares_a_real_slurm(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text("#!/bin/sh\necho real slurm\n")
    refused = jem("slurm-path", "--install", str(bin_dir), check=False)
    assert refused.returncode == 1 and "a real Slurm?" in refused.stderr
    assert (bin_dir / "sbatch").read_text() == "#!/bin/sh\necho real slurm\n"
    (bin_dir / "sbatch").unlink()
    out = jem("slurm-path", "--install", str(bin_dir)).stdout
    assert sorted(line.split()[-1] for line in out.splitlines()) == sorted(
        str(bin_dir / c) for c in ("sacct", "sacctmgr", "sbatch", "scancel", "scontrol", "sinfo", "sprio", "squeue",
                                   "sdiag", "seff", "srun", "salloc", "sshare", "sreport", "sstat",
                                   "sattach", "sbcast", "strigger", "scrontab"))
    assert all((bin_dir / c).stat().st_mode & 0o755 == 0o755 for c in ("sbatch", "squeue"))
    jem("slurm-path", "--install", str(bin_dir))   # ours: refreshed in place


# ---------------------------------------------------------------- the README's tour, as shown

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Each command line of the README's tour ("## A short tour" to the next "## "), in its order, with
# what it must do on the fresh cluster its first line starts: (exit status, text in its output).
TOUR = [
    ("jem up --nodes 4 --cpus-per-node 4", 0, "4 nodes n[1-4] with 4 CPUs"),
    ("source ~/.jem/env", 0, None),
    ("jem submit -J hello -c 2 -t 10:00 job.sh", 0, "Submitted batch job 1\n"),
    ("jem submit --wrap 'hostname; exit 3'", 0, "Submitted batch job 2\n"),
    ("jem submit -c 64 --wrap true", 1, "Requested node configuration is not available"),
    ("jem submit -H --array=0-99%8 task.sh", 0, "Submitted batch job 3\n"),
    ("jem submit -d afterok:3 --wrap 'echo merge'", 0, "Submitted batch job 4\n"),
    ("jem submit -W --wrap 'exit 4'; echo $?", 0, "Submitted batch job 5\n4\n"),
    ("jem jobs", 0, "(JobHeldUser)"),
    ("jem show 1", 0, "JobId=1\n   JobName=hello"),
    ("jem nodes", 0, "FEATURES"),
    ("jem run -n 4 -l -- hostname", 0, "3: "),
    ("jem steps 6", 0, "hostname  COMPLETED"),
    ("jem release 3", 0, None),
    ("jem cancel 3_[5-99]", 0, None),
    ("jem requeue 1", 0, None),
    ("jem hold 4; jem release 4", 0, None),
    ("jem watch", 124, None),   # (run under `timeout -s INT 3`: it streams until Ctrl-C)
    ('jem drain n2 --reason "disk" ; jem resume n2', 0, "n2 DRAIN"),   # (DRAINING or DRAINED: its jobs)
    ('jem down-node n2 --reason "psu"', 0, "n2 DOWN\n"),
    ("jem audit --since 2h -u alice", 0, "TIME  USER"),
    ("jem token --lifespan 3600", 0, "JEM_JWT=ey"),
    ("jem shares", 0, "ACCOUNT"),
    ("jem accounts add physics GrpTRES=cpu=8 ; jem accounts add-user alice -A physics MaxJobs=2", 0,
     "added user alice to account physics"),
    ("jem accounts list", 0, " physics"),
    ("jem why 4", 0, "Job 4 of root in partition debug is PENDING: Dependency"),
    ("jem ping", 0, "of cluster local is UP"),
    ('curl -s --cacert ~/.jem/security/ca.crt -H "Authorization: Bearer $(jem token | cut -d= -f2)" '
     'https://$(cat ~/.jem/metrics.addr)/metrics', 0, "\nslurm_jobs_pending "),
    ("jem down", 0, "stopped (4 agents, 1 controller)"),
    ("jem up", 0, "n2 is DOWN (psu) until `jem resume n2`"),
    ("jem down; jem up --config examples/site.toml", 0, "4 nodes n[1-4] with 4 CPUs and 2048 MiB each"),
    ("source ~/.jem/env", 0, None),
    ("jem submit -C 'intel&ib' --exclusive -q high job.sh", 0, "Submitted batch job"),
    ("jem sim jem/data/CTC-SP2-1996-3.1-cln-first5000.swf.gz --policy easy", 0, "jobs         5000 (skipped 0)"),
    ("jem sim jem/data/CTC-SP2-1996-3.1-cln-first5000.swf.gz --config examples/sim.toml", 0, " requeued, "),
    ('export PATH="$(jem slurm-path):$PATH"', 0, None),
    ("sbatch -J hello -t 10 job.sh", 0, "Submitted batch job"),
    ("squeue; sacct -j 5; scontrol show job 5; sinfo", 0, "PARTITION AVAIL"),
    ("srun -n 4 -l hostname", 0, "3: "),
    ("sacctmgr -i add account physics GrpTRES=cpu=8; sprio -l; sshare -a", 0, None),
    # (two hours ahead: the tour's last job, limited to the partition's hour, starts before it; an hour
    # ahead, it would fit only when scheduled in the very second of the reservation's `now`)
    ("scontrol create reservation ReservationName=maint StartTime=now+2hours Duration=60 Nodes=ALL Users=root "
     "Flags=MAINT", 0, "Reservation created: maint"),
    ("python", 0, "COMPLETED"),   # the tour's Python example, last
]


def tour_lines() -> list[str]:
    """The commands of the README's tour: its indented lines (without their comments), then its Python block."""
    text = (ROOT / "README.md").read_text()
    tour = text[text.index("## A short tour"):]
    tour = tour[:tour.index("\n## ", 3)]
    tour = "".join(tour.split("```")[::2])   # (without the fenced Python block)
    lines = [line[4:].split("  #")[0].rstrip() for line in tour.splitlines()
             if line.startswith("    ") and not line.strip().startswith("#")]
    return [line for line in lines if line] + ["python"]


def tour_python() -> str:
    tour = (ROOT / "README.md").read_text().split("## A short tour", 1)[1]
    return tour.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.mark.skipif(os.geteuid() != 0, reason="the tour drains nodes and makes reservations: root")
@pytest.mark.timeout(480)   # (about 2 minutes: four `jem up`s, an array of 100 tasks, two replays)
def test_the_readme_tour_runs_as_shown_on_a_fresh_cluster(tmp_path):
    """Every command of the tour, in its order, in one shell whose HOME is new (so ~/.jem is a new
    state dir) and whose directory holds the job.sh and task.sh it names; paths into this checkout
    (examples/, jem/data/) are made absolute, `jem watch` is stopped after 3 s, and the command
    servers of the Slurm commands run in a directory of the test's own."""
    assert tour_lines() == [command for command, _, _ in TOUR]   # (a change to either: change both)
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (work / "job.sh").write_text("#!/bin/sh\necho hello from $SLURM_JOB_ID\n")
    # (tasks still run when the tour cancels some, and the array's last ones are done before its
    # reservation is made, `Nodes=ALL`, which a running job with no time limit would keep busy: its
    # commands take ~20 ms each on the command server, so the tour takes ~30 s, no longer minutes)
    (work / "task.sh").write_text("#!/bin/sh\nsleep 1\n")
    (work / "tour.py").write_text(tour_python())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JEM_", "SLURM_"))}
    env.update(HOME=str(home), JEM_RUNTIME_DIR=str(tmp_path / "runtime"),
               PATH=f"{os.path.dirname(sys.executable)}:{env.get('PATH', '/usr/bin:/bin')}")
    script = ["set +e"]
    for i, (command, _, _) in enumerate(TOUR):
        line = command.replace("examples/", f"{ROOT}/examples/").replace("jem/data/", f"{ROOT}/jem/data/")
        line = {"jem watch": "timeout -s INT 3 jem watch", "python": f"{sys.executable} tour.py"}.get(line, line)
        script += [line, f"printf '\\n@@TOUR {i} %d\\n' $?"]
    log = tmp_path / "tour.log"   # (read as far as it got, should the tour hang)
    try:
        with open(log, "w") as out:
            shell = subprocess.Popen(["bash", "-c", "\n".join(script)], cwd=str(work), env=env, stdout=out,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                shell.wait(timeout=400)
            except subprocess.TimeoutExpired:
                os.killpg(shell.pid, 9)
                shell.wait()
    finally:
        subprocess.run([*JEM, "down", "--state-dir", str(home / ".jem")], env=env, capture_output=True, timeout=120)
        subprocess.run([*JEM, "slurm-path", "--stop-server"], env=env, capture_output=True, timeout=60)
    # the log: output 0, "\n@@TOUR 0 status\n", output 1, "\n@@TOUR 1 status\n", ...
    stdout = log.read_text()
    parts = stdout.split("\n@@TOUR ")
    for i, (command, code, text) in enumerate(TOUR):
        assert i + 1 < len(parts), f"the tour stopped at `{command}`:\n{stdout[-3000:]}"
        output = parts[0] if i == 0 else parts[i].partition("\n")[2]
        status = int(parts[i + 1].split()[1])
        assert status == code, f"`{command}` exited {status}:\n{output}"
        if text is not None:
            assert text in output, f"`{command}` printed:\n{output}"
    assert "Traceback" not in stdout
