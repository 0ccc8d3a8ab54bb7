"""A `jem up` cluster as a site runs it for several users: root starts it from a venv everyone can read,
installs the Slurm-named commands for everyone, and a second Unix user submits, watches and cancels
their jobs, which run as them; a third user cannot read the second one's job script.

Everything runs as real processes and real users (useradd -m, runuser). The venv is built once per
session with /usr/bin/python3 (the test interpreter may live under a 0700 /root) and `pip install` of
this checkout; every user, process, cgroup and directory made here is removed afterwards.
"""

import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import uuid

import psutil
import pytest
from slurm_cluster import wait_for

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYSTEM_PYTHON = "/usr/bin/python3"
CGROUP_ROOT = "/sys/fs/cgroup"
ROOT_UMASK = 0o077   # root starts the cluster with a strict umask: what users must reach is made so on purpose

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists(SYSTEM_PYTHON) or not shutil.which("runuser")
    or not shutil.which("useradd"), reason="needs root, /usr/bin/python3, runuser and useradd")


def _shared_tmpdir(prefix: str) -> str:
    """A fresh directory every user may traverse (mkdtemp makes 0700; /tmp itself is sticky)."""
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.chmod(path, 0o755)
    return path


@pytest.fixture(scope="session")
def shared_venv():
    """A venv of the system Python under a 0755 directory, with this checkout installed (not editable)."""
    base = _shared_tmpdir("jem-venv-")
    venv = os.path.join(base, "venv")
    try:
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", venv], check=True, capture_output=True, timeout=120)
        result = subprocess.run([f"{venv}/bin/pip", "install", "-q", REPO], capture_output=True, text=True,
                                timeout=900, cwd=base)
        if result.returncode != 0:
            pytest.fail(f"pip install {REPO} failed:\n{result.stderr[-3000:]}")
        yield venv
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _clean_env(path: str) -> dict:
    keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TERM")}
    return dict(keep, PATH=path)


@pytest.fixture(scope="module")
def cluster(shared_venv):
    """Root's `jem up` from the shared venv (real processes) and the Slurm-named commands in a 0755 bin dir."""
    base = _shared_tmpdir("jem-multiuser-")
    state_dir = os.path.join(base, "state")
    bin_dir = os.path.join(base, "bin")   # made by `jem slurm-path --install`
    path = f"{bin_dir}:{shared_venv}/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    env = _clean_env(path)
    jem = f"{shared_venv}/bin/jem"
    cgroup_name = ""
    try:
        up = subprocess.run([jem, "up", "--nodes", "2", "--cpus-per-node", "2", "--mem-per-node", "1024",
                             "--state-dir", state_dir], capture_output=True, text=True, env=env, cwd=base,
                            timeout=120, umask=ROOT_UMASK)
        assert up.returncode == 0, up.stderr
        users_env = [line.split()[1] for line in up.stdout.splitlines() if "any other user" in line]
        assert users_env, up.stdout
        installed = subprocess.run([jem, "slurm-path", "--install", bin_dir], capture_output=True, text=True,
                                   env=env, timeout=60, umask=ROOT_UMASK)
        assert installed.returncode == 0, installed.stderr
        spools, cgroup_name = _agents(state_dir)
        root_env = dict(env, JEM_RUNTIME_DIR=os.path.join(state_dir, "cmd-run"))
        with open(os.path.join(state_dir, "env")) as f:
            for line in f:
                key, value = line.removeprefix("export ").strip().split("=", 1)
                root_env[key] = value
        yield {"base": base, "state_dir": state_dir, "path": path, "users_env": users_env[0], "spools": spools,
               "root_env": root_env, "jem": jem}
    finally:
        subprocess.run([jem, "slurm-path", "--stop-server"], capture_output=True, timeout=60,
                       env=dict(env, JEM_RUNTIME_DIR=os.path.join(state_dir, "cmd-run")))
        subprocess.run([jem, "down", "--state-dir", state_dir], capture_output=True, env=env, timeout=120)
        if cgroup_name:
            _remove_cgroups(cgroup_name)
        shutil.rmtree(base, ignore_errors=True)


def _agents(state_dir: str) -> tuple[dict[str, str], str]:
    """({node: spool dir}, cgroup name) from the running agents' command lines (pids from `jem up`)."""
    with open(os.path.join(state_dir, "pids")) as f:
        pids = json.load(f)["agents"]
    spools, cgroup_name = {}, ""
    for node, pid in pids.items():
        argv = psutil.Process(pid).cmdline()
        spools[node] = argv[argv.index("--spool-dir") + 1]
        cgroup_name = argv[argv.index("--cgroup-name") + 1]
    return spools, cgroup_name


def _remove_cgroups(name: str) -> None:
    """Whatever job cgroups of this cluster are left (v1 controllers or v2), deepest first."""
    for top in [os.path.join(CGROUP_ROOT, d, name) for d in os.listdir(CGROUP_ROOT)] + [
            os.path.join(CGROUP_ROOT, name)]:
        if not os.path.isdir(top):
            continue
        for here, _, _ in sorted(os.walk(top), key=lambda t: -t[0].count("/")):
            try:
                os.rmdir(here)
            except OSError:
                pass


@pytest.fixture(scope="module")
def make_user(cluster):
    """make_user() -> a new Unix user with a home (useradd -m); each is removed afterwards with its
    processes (jobs and command servers included) and its home."""
    made = []

    def make() -> pwd.struct_passwd:
        name = f"jemu{uuid.uuid4().hex[:6]}"
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True, capture_output=True)
        made.append(name)
        return pwd.getpwnam(name)

    try:
        yield make
    finally:
        for name in made:
            uid = pwd.getpwnam(name).pw_uid
            subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
            wait_for(lambda: not [p for p in psutil.process_iter(["uids"]) if p.info["uids"]
                                   and p.info["uids"].real == uid], what=f"{name}'s processes to end")
            subprocess.run(["userdel", "-r", name], capture_output=True)
            shutil.rmtree(f"/tmp/jem-{uid}", ignore_errors=True)   # their command server's runtime dir


def as_user(cluster, user: pwd.struct_passwd, *argv: str, check: bool = False):
    """Run `argv` as `user` in their home, with a login-like environment and the cluster's env file sourced
    (so the file itself must be readable by them)."""
    env = dict(_clean_env(cluster["path"]), HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
    result = subprocess.run(["runuser", "-u", user.pw_name, "--", "sh", "-c", f'. {cluster["users_env"]} && '
                             'exec "$@"', "sh", *argv], capture_output=True, text=True, env=env,
                            cwd=user.pw_dir, timeout=60)
    if check:
        assert result.returncode == 0, f"{argv} as {user.pw_name}: {result.stderr}"
    return result


def as_root(cluster, *argv: str):
    return subprocess.run(list(argv), capture_output=True, text=True, env=cluster["root_env"],
                          cwd=cluster["base"], timeout=60)


def _job_id(submitted: str) -> str:
    assert submitted.startswith("Submitted batch job "), submitted
    return submitted.split()[-1]


def _state(cluster, user, job_id: str) -> str:
    return as_user(cluster, user, "squeue", "-h", "-t", "all", "-j", job_id, "-o", "%T").stdout.strip()


def _output_of(path: str) -> str:
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return ""
    return text if text.endswith("\n") and text.count("\n") >= 2 else ""


@pytest.fixture(scope="module")
def users(make_user):
    return make_user(), make_user()


def test_the_users_env_file_and_client_config_are_readable_but_the_state_is_not(cluster, users):
    user, _ = users
    shown = as_user(cluster, user, "sh", "-c", 'cat "$JEM_CONFIG"', check=True).stdout
    assert "controller =" in shown and "authd_socket =" in shown
    assert stat.S_IMODE(os.stat(cluster["users_env"]).st_mode) == 0o644
    for path in (cluster["state_dir"], os.path.join(cluster["state_dir"], "security")):
        denied = as_user(cluster, user, "ls", path)
        assert denied.returncode != 0 and "Permission denied" in denied.stderr
    denied = as_user(cluster, user, "cat", os.path.join(cluster["state_dir"], "jem.db"))
    assert denied.returncode != 0 and "Permission denied" in denied.stderr


def test_sbatch_and_jem_submit_run_the_job_as_the_user_who_submitted_it(cluster, users):
    user, _ = users
    by_sbatch = _job_id(as_user(cluster, user, "sbatch", "--wrap", "id -u; id -un", check=True).stdout)
    by_jem = _job_id(as_user(cluster, user, "jem", "submit", "-o", "jem-%j.out", "--wrap", "id -u; id -un",
                             check=True).stdout)
    for job_id, name in ((by_sbatch, f"slurm-{by_sbatch}.out"), (by_jem, f"jem-{by_jem}.out")):
        path = os.path.join(user.pw_dir, name)
        text = wait_for(lambda: _output_of(path), what=f"the output of job {job_id}")
        assert text == f"{user.pw_uid}\n{user.pw_name}\n"
        st = os.stat(path)
        assert (st.st_uid, st.st_gid) == (user.pw_uid, user.pw_gid)
        wait_for(lambda: _state(cluster, user, job_id) == "COMPLETED", what=f"job {job_id} to complete")
        accounted = as_user(cluster, user, "sacct", "-j", job_id, "-X", "-n", "-o", "JobID,User%20,State",
                            check=True).stdout.split()
        assert accounted == [job_id, user.pw_name, "COMPLETED"]


def test_a_user_cancels_their_own_job_and_not_roots(cluster, users):
    user, stranger = users
    roots = _job_id(as_root(cluster, "sbatch", "-H", "--wrap", "sleep 300").stdout)
    theirs = _job_id(as_user(cluster, user, "sbatch", "--wrap", "sleep 300", check=True).stdout)
    wait_for(lambda: _state(cluster, user, theirs) == "RUNNING", what=f"job {theirs} to run")
    queue = as_user(cluster, user, "squeue", "-h", "-o", "%i %u %T", check=True).stdout.splitlines()
    assert f"{theirs} {user.pw_name} RUNNING" in queue

    node = as_user(cluster, user, "squeue", "-h", "-j", theirs, "-o", "%N", check=True).stdout.strip()
    script = os.path.join(cluster["spools"][node], f"job{theirs}", "script")
    assert os.stat(script).st_uid == user.pw_uid
    assert as_user(cluster, user, "test", "-r", script, "-a", "-x", script).returncode == 0
    denied = as_user(cluster, stranger, "cat", script)
    assert denied.returncode != 0 and "Permission denied" in denied.stderr
    assert as_user(cluster, stranger, "ls", os.path.dirname(script)).returncode != 0

    refused = as_user(cluster, user, "scancel", roots)
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"scancel: error: Kill job error on job id {roots}: Access/permission denied"
    assert _state(cluster, user, roots) == "PENDING"

    cancelled = as_user(cluster, user, "scancel", theirs)
    assert cancelled.returncode == 0, cancelled.stderr
    wait_for(lambda: _state(cluster, user, theirs) == "CANCELLED", what=f"job {theirs} to be cancelled")
    assert as_root(cluster, "scancel", roots).returncode == 0
