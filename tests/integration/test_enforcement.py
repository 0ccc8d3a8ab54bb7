"""Agents hold jobs to their limits with real cgroups (v1 here, v2 where the machine
allows it), run them as their users, and kill every process a job leaves."""

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

from jem.model.errors import NotJobOwner
from jem.model.node import NodeState
from jem.model.states import JobState

from harness import LocalCluster, processes_with_marker, wait_until

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0, reason="cgroup enforcement needs root")]

PY = sys.executable
MIB = 1024 * 1024


def v2_has(controller: str) -> bool:
    """Whether the v2 hierarchy this machine offers can delegate `controller`."""
    for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        try:
            with open(os.path.join(root, "cgroup.controllers")) as f:
                return controller in f.read().split()
        except OSError:
            continue
    return False


MODES = ["v1", "v2"] if os.path.isdir("/sys/fs/cgroup/memory") else ["v2"]


@pytest.fixture(params=MODES)
def mode(request):
    return request.param


@pytest.fixture
def node_cluster(tmp_path, mode):
    """One node with 2 CPUs, its agent using cgroup `mode`. The second user's jobs come through
    a JWT (`client_as`), which carries no user signature: the agent allows unsigned work, as a
    site with portals would (signatures are tested in test_security.py)."""
    c = LocalCluster(str(tmp_path), n_nodes=1, cpus=2, mem_mib=2048,
                     agent_args=("--cgroup-mode", mode, "--unsigned-jobs", "allow"))
    try:
        c.start()
        yield c
    finally:
        c.stop()


def job_dirs(cluster: LocalCluster) -> list[str]:
    return [d for d in cluster.cgroup_dirs() if os.path.basename(d).startswith("job_")]


def test_job_over_its_memory_ends_out_of_memory(node_cluster, mode):
    if mode == "v2" and not v2_has("memory"):
        pytest.skip("this machine's v2 hierarchy has no memory controller (hybrid layout); v1 enforces memory here")
    hog = f"#!/bin/sh\n{PY} -c 'a = bytearray(256 * 1024 * 1024); print(len(a))'\n"
    with node_cluster.client() as client:
        job_id = client.submit(node_cluster.spec(hog, mem_per_node_mib=64))
        job = node_cluster.wait_job(client, job_id)
    assert job.state is JobState.OUT_OF_MEMORY
    assert job.usage.max_rss_kib * 1024 <= 64 * MIB
    assert job.usage.max_rss_kib * 1024 >= 32 * MIB
    assert job_dirs(node_cluster) == []


def test_job_within_its_memory_completes_with_its_peak_recorded(node_cluster, mode):
    if mode == "v2" and not v2_has("memory"):
        pytest.skip("this machine's v2 hierarchy has no memory controller (hybrid layout); v1 enforces memory here")
    user = f"#!/bin/sh\n{PY} -c 'a = bytearray(64 * 1024 * 1024); a[::4096] = b\"x\" * len(a[::4096])'\n"
    with node_cluster.client() as client:
        job_id = client.submit(node_cluster.spec(user, mem_per_node_mib=256))
        job = node_cluster.wait_job(client, job_id)
    assert job.state is JobState.COMPLETED
    assert 64 * MIB <= job.usage.max_rss_kib * 1024 <= 140 * MIB


def test_one_cpu_jobs_each_get_one_core_of_their_own(node_cluster, mode):
    if mode == "v2" and not v2_has("cpuset"):
        pytest.skip("this machine's v2 hierarchy has no cpuset controller (hybrid layout); v1 confines CPUs here")
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs a machine with two CPUs")
    busy = ("#!/bin/bash\ngrep Cpus_allowed_list /proc/self/status | cut -f2 > cpus-$SLURM_JOB_ID\n"
            "echo $SLURM_CPUS_ON_NODE > n-$SLURM_JOB_ID\n"
            "(while :; do :; done) & (while :; do :; done) & sleep 3; kill %1 %2; wait\n")
    with node_cluster.client() as client:
        ids = [client.submit(node_cluster.spec(busy, cpus_per_task=1)) for _ in range(2)]
        jobs = [node_cluster.wait_job(client, job_id) for job_id in ids]
    assert all(j.state is JobState.COMPLETED for j in jobs)
    seen = [open(os.path.join(node_cluster.workdir, f"cpus-{j}")).read().strip() for j in ids]
    assert len(set(seen)) == 2 and all(s.isdigit() for s in seen)   # one core each, not the same one
    assert [open(os.path.join(node_cluster.workdir, f"n-{j}")).read().strip() for j in ids] == ["1", "1"]
    for job in jobs:
        cpu_s = (job.usage.cpu_user_us + job.usage.cpu_system_us) / 1e6
        wall_s = job.end_time - job.start_time
        assert 0.5 * wall_s <= cpu_s <= 1.25 * wall_s, (cpu_s, wall_s)   # two busy threads, one core


def test_time_limit_kills_the_job_and_its_double_forked_daemon(node_cluster):
    marker = f"jemtest-{uuid.uuid4().hex[:8]}"
    script = (f"#!/bin/bash\n(setsid bash -c 'exec -a {marker}-daemon sleep 300' &)\n"
              f"exec -a {marker}-main sleep 100\n")
    with node_cluster.client() as client:
        job_id = client.submit(node_cluster.spec(script, time_limit_s=5))
        wait_until(lambda: len(processes_with_marker(marker)) == 2, what="job and daemon to start")
        job = node_cluster.wait_job(client, job_id, timeout_s=30)
    assert job.state is JobState.TIMEOUT
    kill_wait_s = 2  # the harness's scheduler.kill_wait_s
    assert job.end_time - job.start_time <= 5 + kill_wait_s + 2
    wait_until(lambda: not processes_with_marker(marker), 5, what="every process of the job to be gone")
    assert job_dirs(node_cluster) == []


def test_cancel_reaches_a_double_forked_daemon(node_cluster):
    marker = f"jemtest-{uuid.uuid4().hex[:8]}"
    script = f"#!/bin/bash\n(setsid bash -c 'exec -a {marker}-daemon sleep 300' &)\nsleep 300\n"
    with node_cluster.client() as client:
        job_id = client.submit(node_cluster.spec(script))
        wait_until(lambda: processes_with_marker(marker), what="the daemon to start")
        client.cancel(job_id)
        assert node_cluster.wait_job(client, job_id).state is JobState.CANCELLED
    wait_until(lambda: not processes_with_marker(marker), 5, what="the daemon to be gone")


def test_usage_comes_from_the_whole_cgroup(node_cluster):
    # The CPU is burnt by a grandchild that the script never waits for; it burns 1.5 s of CPU
    # (not of wall time, so a busy machine changes nothing) and then leaves a file the script polls.
    burn = "import time\nwhile time.process_time() < 1.5: pass\nopen('burnt', 'w').close()"
    script = (f"#!/bin/bash\n(setsid python3 -c \"{burn}\" &)\n"
              "while [ ! -e burnt ]; do sleep 0.1; done\n")
    with node_cluster.client() as client:
        job = node_cluster.wait_job(client, client.submit(node_cluster.spec(script)))
    assert job.state is JobState.COMPLETED
    assert (job.usage.cpu_user_us + job.usage.cpu_system_us) >= 1_000_000


@pytest.fixture
def second_user():
    name = f"jemu{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True)
    entry = pwd.getpwnam(name)
    workdir = tempfile.mkdtemp(prefix="jem-user-")
    os.chown(workdir, entry.pw_uid, entry.pw_gid)
    try:
        yield entry, workdir
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        subprocess.run(["userdel", name], check=False)


@pytest.mark.parametrize("mode", ["auto"])
def test_second_user_job_runs_as_that_user_and_cannot_touch_others(node_cluster, second_user):
    entry, workdir = second_user
    with node_cluster.client() as root, node_cluster.client_as(entry.pw_name) as user:
        mine = root.submit(node_cluster.spec("#!/bin/sh\nsleep 60\n"))
        theirs = user.submit(node_cluster.spec("#!/bin/sh\nid -u; id -g; echo $HOME $USER; touch made-by-job\n",
                                               working_dir=workdir, environment={}))
        job = node_cluster.wait_job(user, theirs)
        with pytest.raises(NotJobOwner):
            user.cancel(mine, signal=int(signal.SIGTERM))
        with pytest.raises(NotJobOwner):
            user.cancel(mine)
        assert root.get_job(mine).state in (JobState.RUNNING, JobState.PENDING)
        root.cancel(mine)
    assert job.state is JobState.COMPLETED
    out = os.path.join(workdir, f"slurm-{theirs}.out")
    uid_line, gid_line, env_line = open(out).read().splitlines()
    assert (int(uid_line), int(gid_line)) == (entry.pw_uid, entry.pw_gid)
    assert env_line == f"{entry.pw_dir} {entry.pw_name}"
    assert os.stat(out).st_uid == entry.pw_uid
    assert os.stat(os.path.join(workdir, "made-by-job")).st_uid == entry.pw_uid


@pytest.mark.parametrize("mode", ["auto"])
def test_restarted_agent_takes_over_what_its_dead_predecessor_left(node_cluster):
    marker = f"jemtest-{uuid.uuid4().hex[:8]}"
    with node_cluster.client() as client:
        job_id = client.submit(node_cluster.spec(f"#!/bin/bash\nexec -a {marker} sleep 300\n", requeue=False))
        wait_until(lambda: processes_with_marker(marker), what="the job to start")
        node_cluster.stop_process(node_cluster.agents["n1"], signal.SIGKILL)
        assert processes_with_marker(marker)            # the job outlives its agent...
        node_cluster.start_agent("n1")
        node_cluster.wait_nodes_up(["n1"])
        assert client.get_job(job_id).state is JobState.RUNNING   # ...and the new agent keeps it
        client.cancel(job_id)
        job = node_cluster.wait_job(client, job_id)
    assert job.state is JobState.CANCELLED
    wait_until(lambda: not processes_with_marker(marker), 5, what="the job's processes to be killed")
    assert job_dirs(node_cluster) == []


@pytest.mark.parametrize("mode", ["auto"])
def test_agent_stopping_cleanly_leaves_no_cgroup(node_cluster):
    with node_cluster.client() as client:
        marker = f"jemtest-{uuid.uuid4().hex[:8]}"
        job_id = client.submit(node_cluster.spec(f"#!/bin/bash\nexec -a {marker} sleep 300\n"))
        wait_until(lambda: processes_with_marker(marker), what="the job to start")
        node_cluster.stop_process(node_cluster.agents["n1"])
        assert client.get_job(job_id).state in (JobState.NODE_FAIL, JobState.PENDING)
    assert node_cluster.cgroup_dirs() == []


def test_failing_health_check_drains_the_node_until_it_passes(tmp_path):
    flag = tmp_path / "sick"
    check = tmp_path / "check.sh"
    check.write_text(f"#!/bin/sh\nif [ -e {flag} ]; then echo 'disk /scratch is full'; exit 1; fi\n")
    check.chmod(0o755)
    c = LocalCluster(str(tmp_path / "c"), n_nodes=1,
                     agent_args=("--health-check", str(check), "--health-interval", "0.3"))
    try:
        c.start()
        with c.client() as client:
            flag.write_text("")
            info = wait_until(lambda: (i := client.list_nodes()[0]).state is NodeState.DRAINED and i, 15,
                              what="the node to drain")
            assert info.node.reason == "health check: disk /scratch is full"
            flag.unlink()
            wait_until(lambda: client.list_nodes()[0].state is NodeState.IDLE, 15, what="the node to resume")
    finally:
        c.stop()


@pytest.mark.parametrize("mode", ["auto"])
def test_output_files_are_opened_as_the_user_not_as_root(node_cluster, second_user):
    entry, workdir = second_user
    target = os.path.join(tempfile.mkdtemp(prefix="jem-root-only-"), "precious")
    with open(target, "w") as f:
        f.write("keep me\n")
    os.chmod(os.path.dirname(target), 0o755)
    os.chmod(target, 0o644)
    try:
        with node_cluster.client_as(entry.pw_name) as user:
            job_id = user.submit(node_cluster.spec("#!/bin/sh\necho overwritten\n", working_dir=workdir,
                                                   stdout_pattern=target, environment={}))
            job = node_cluster.wait_job(user, job_id)
        assert job.state is JobState.FAILED
        assert "Permission denied" in job.reason_detail
        assert open(target).read() == "keep me\n"
    finally:
        shutil.rmtree(os.path.dirname(target), ignore_errors=True)


GPU_ISOLATION = {"v1": "devices", "v2": "ebpf"}


@pytest.mark.parametrize("mode", ["v1", "v2"])
def test_a_job_sees_and_opens_only_its_own_gpus(tmp_path, mode):
    """Stand-in GPUs: two character devices made for the test (this machine has no GPU);
    the v1 devices controller and the v2 device program (bpf_devices) deny by
    type:major:minor exactly as for /dev/nvidiaN, and other devices stay open."""
    if mode == "v1" and not os.path.isdir("/sys/fs/cgroup/devices"):
        pytest.skip("no v1 devices controller on this machine")
    devices = tmp_path / "dev"
    devices.mkdir()
    os.chmod(tmp_path, 0o755)
    gpu0, gpu1 = devices / "gpu0", devices / "gpu1"
    os.mknod(gpu0, 0o666 | 0o020000, os.makedev(1, 5))   # like /dev/zero
    os.mknod(gpu1, 0o666 | 0o020000, os.makedev(1, 7))   # like /dev/full
    c = LocalCluster(str(tmp_path / "c"), n_nodes=1, gpus=2,
                     agent_args=("--cgroup-mode", mode, "--gpu-devices", f"{gpu0},{gpu1}"))
    try:
        c.start()
        script = (f"#!/bin/sh\necho $CUDA_VISIBLE_DEVICES\nhead -c 1 {gpu0} >/dev/null && echo gpu0 ok\n"
                  f"head -c 1 {gpu1} >/dev/null 2>&1 && echo gpu1 ok || echo gpu1 denied\n"
                  "head -c 1 /dev/urandom | cat >/dev/null && echo others ok\n")
        with c.client() as client:
            job = c.wait_job(client, client.submit(c.spec(script, gpus_per_node=1)))
            node = client.list_nodes()[0].node
        assert job.state is JobState.COMPLETED
        lines = open(os.path.join(c.workdir, f"slurm-{job.job_id}.out")).read().split("\n")
        assert lines[:4] == ["0", "gpu0 ok", "gpu1 denied", "others ok"]
        assert node.gpu_isolation == GPU_ISOLATION[mode]
    finally:
        c.stop()


@pytest.mark.skipif(shutil.which("capsh") is None, reason="needs capsh to drop capabilities")
def test_v2_node_without_bpf_rights_says_its_gpus_are_not_isolated():
    """Without CAP_SYS_ADMIN and CAP_NET_ADMIN (as in most containers) the kernel loads
    no device program: the node reports gpu_isolation "none", with the kernel's reason."""
    name = f"jem/test-{uuid.uuid4().hex[:8]}"
    probe = ("from jem.agent.cgroups import open_cgroups\n"
             f"c = open_cgroups('v2', name={name!r})\n"
             "print(c.gpu_isolation)\nprint(c.device_isolation_error)\nc.remove_base()\n")
    out = subprocess.run(["capsh", "--drop=cap_sys_admin,cap_net_admin", "--", "-c", f'exec "$0" -c "$1"', PY, probe],
                         capture_output=True, text=True, check=True)
    isolation, reason = out.stdout.splitlines()[:2]
    assert isolation == "none"
    assert "Operation not permitted" in reason and "CAP_SYS_ADMIN" in reason


@pytest.mark.parametrize("mode", ["v1"] if "v1" in MODES else [])
def test_cores_the_controller_assigns_are_the_ones_the_job_gets(node_cluster, mode):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs a machine with two CPUs")
    script = "#!/bin/sh\ngrep Cpus_allowed_list /proc/self/status | cut -f2\nsleep 2\n"
    with node_cluster.client() as client:
        first = client.submit(node_cluster.spec(script))
        wait_until(lambda: client.get_job(first).state is JobState.RUNNING, what="the first job to run")
        second = client.submit(node_cluster.spec(script))
        wait_until(lambda: client.get_job(second).state is JobState.RUNNING, what="the second job to run")
        running = [client.get_job(first), client.get_job(second)]
        done = [node_cluster.wait_job(client, j) for j in (first, second)]
    assert [job.cpu_ids for job in running] == [((0,),), ((1,),)]
    machine = sorted(os.sched_getaffinity(0))
    for job in done:
        seen = open(os.path.join(node_cluster.workdir, f"slurm-{job.job_id}.out")).read().strip()
        assert seen == str(machine[job.job_id - first])
