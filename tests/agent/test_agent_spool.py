"""The agent's spool with real processes and Unix users: unsafe spools are refused, and
a job's user cannot make root follow a link, chown root's files, or read back a
root-only file.
"""

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from jem.agent.running import RunningJobs
from jem.agent.spool import DEFAULT_SPOOL_ROOT, Spool, UnsafeSpool, checked_spool_dir, node_spool_path
from jem.model.execution import JobEnd, JobReport, Launch
from jem.model.job import JobSpec
from jem.model.resources import Resources

from agent_reports import Reports

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="users, chown and root-only files need root")


def wait_until(predicate, timeout_s: float = 10.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout_s
    while not (value := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
    return value


def open_dir(mode: int = 0o755) -> str:
    """A new directory in /tmp (sticky, root's) that others may traverse, like the integration harness's."""
    path = tempfile.mkdtemp(prefix="jem-spool-test-")
    os.chmod(path, mode)
    return path


@pytest.fixture
def area():
    """A traversable scratch directory, removed afterwards."""
    path = open_dir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def user(area):
    """A normal Unix user (made with useradd -m, removed with userdel -r) and a working directory of theirs."""
    name = f"jemsp{uuid.uuid4().hex[:6]}"
    subprocess.run(["useradd", "-m", "-s", "/bin/sh", name], check=True, capture_output=True)
    try:
        entry = pwd.getpwnam(name)
        workdir = os.path.join(area, "work")
        os.mkdir(workdir)
        os.chown(workdir, entry.pw_uid, entry.pw_gid)
        yield entry, workdir
    finally:
        subprocess.run(["userdel", "-r", name], check=False, capture_output=True)


@pytest.fixture
def start_jobs():
    """Makes RunningJobs; at teardown (before `user`'s, as tests ask for it after `user`) kills
    what they still run, since a failed test must not leave a job behind (userdel would refuse)."""
    made = []

    def start(spool: str, reports: Reports) -> RunningJobs:
        made.append(RunningJobs(node_name="n1", spool_dir=spool, report=reports))
        return made[-1]

    yield start
    for running in made:
        running.shut_down(kill_wait_s=1)
        running.wait_all(10)


def user_launch(entry: pwd.struct_passwd, workdir: str, job_id: int, script: str, **spec) -> Launch:
    spec = JobSpec(script=script, name=f"t{job_id}", working_dir=workdir, stdout_pattern=spec.pop("stdout", "out-%j"),
                   environment={"PATH": "/usr/bin:/bin"}, **spec)
    return Launch(job_id=job_id, spec=spec, user=entry.pw_name, uid=entry.pw_uid, gid=entry.pw_gid, nodes=("n1",),
                  alloc=Resources(1, 100, 0), n_tasks=1, time_limit_s=None, kill_wait_s=1, submit_dir=workdir,
                  cluster_name="c")


def as_user(uid: int, gid: int, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--", *argv],
                          capture_output=True, text=True)


# ------------------------------------------------------------ refused spools


def test_the_default_spool_is_under_var_spool():
    assert DEFAULT_SPOOL_ROOT == "/var/spool/jem"
    assert node_spool_path("n7") == "/var/spool/jem/n7"


def test_a_symlink_on_the_spool_path_is_refused(area):
    real = os.path.join(area, "real")
    os.mkdir(real, 0o755)
    os.symlink(real, os.path.join(area, "link"))
    spool = os.path.join(area, "link", "spool")
    with pytest.raises(UnsafeSpool, match="symbolic link") as refused:
        RunningJobs(node_name="n1", spool_dir=spool, report=Reports())
    assert spool in str(refused.value) and os.path.join(area, "link") in str(refused.value)
    assert os.listdir(real) == []   # nothing was made through the link


def test_a_spool_that_is_a_symlink_is_refused(area):
    real = os.path.join(area, "real")
    os.mkdir(real, 0o755)
    os.symlink(real, os.path.join(area, "spool"))
    with pytest.raises(UnsafeSpool, match="symbolic link"):
        RunningJobs(node_name="n1", spool_dir=os.path.join(area, "spool"), report=Reports())
    assert os.listdir(real) == []


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777, 0o757])
def test_a_group_or_world_writable_spool_is_refused(area, mode):
    spool = os.path.join(area, "spool")
    os.mkdir(spool)
    os.chmod(spool, mode)
    with pytest.raises(UnsafeSpool, match="writable by group or others") as refused:
        RunningJobs(node_name="n1", spool_dir=spool, report=Reports())
    assert spool in str(refused.value)
    assert os.listdir(spool) == []


def test_a_writable_directory_above_the_spool_is_refused_unless_sticky(area):
    above = os.path.join(area, "above")
    os.mkdir(above)
    os.chmod(above, 0o777)
    with pytest.raises(UnsafeSpool, match="not sticky"):
        RunningJobs(node_name="n1", spool_dir=os.path.join(above, "spool"), report=Reports())
    os.chmod(above, 0o1777)   # like /tmp: only an entry's owner may rename it
    RunningJobs(node_name="n1", spool_dir=os.path.join(above, "spool"), report=Reports())


@needs_root
def test_a_spool_or_ancestor_owned_by_someone_else_is_refused(area):
    above = os.path.join(area, "above")
    os.mkdir(above, 0o755)
    os.chown(above, 4_000_123, 4_000_123)
    with pytest.raises(UnsafeSpool, match="owned by uid 4000123"):
        Spool(os.path.join(above, "spool"))
    spool = os.path.join(area, "spool")
    os.mkdir(spool, 0o755)
    os.chown(spool, 4_000_123, 4_000_123)
    with pytest.raises(UnsafeSpool, match="owned by uid 4000123"):
        Spool(spool)


def test_private_dirs_that_are_links_or_writable_are_refused(area):
    spool = os.path.join(area, "spool")
    os.mkdir(spool, 0o755)
    os.symlink(area, os.path.join(spool, "private"))
    with pytest.raises(UnsafeSpool, match="private is a symbolic link"):
        Spool(spool)
    os.unlink(os.path.join(spool, "private"))
    os.mkdir(os.path.join(spool, "reports"))
    os.chmod(os.path.join(spool, "reports"), 0o733)
    with pytest.raises(UnsafeSpool, match="reports is owned by"):
        Spool(spool)


def test_a_missing_spool_is_made_with_safe_modes(area):
    spool = os.path.join(area, "a", "b", "n1")
    assert checked_spool_dir(spool) == spool
    for path in (os.path.join(area, "a"), os.path.join(area, "a", "b"), spool):
        st = os.lstat(path)
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o755 and st.st_uid == os.geteuid()
    for name in ("private", "reports"):
        st = os.lstat(os.path.join(spool, name))
        assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700 and st.st_uid == os.geteuid()


def test_a_readable_reports_dir_of_an_older_agent_is_tightened(area):
    spool = os.path.join(area, "spool")
    os.makedirs(os.path.join(spool, "reports"), 0o755)
    os.chmod(os.path.join(spool, "reports"), 0o755)
    checked_spool_dir(spool)
    assert stat.S_IMODE(os.lstat(os.path.join(spool, "reports")).st_mode) == 0o700


# ------------------------------------------------------------ the attacks


def root_only_dir(area: str) -> str:
    """A root-owned directory with one file, both of which jobs must never change."""
    target = os.path.join(area, "root-owned")
    os.mkdir(target)
    os.chmod(target, 0o755)
    with open(os.path.join(target, "keep"), "w") as f:
        f.write("root's\n")
    os.chmod(os.path.join(target, "keep"), 0o644)
    return target


def assert_untouched(target: str) -> None:
    st = os.lstat(target)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o755)
    assert os.listdir(target) == ["keep"]
    keep = os.lstat(os.path.join(target, "keep"))
    assert (keep.st_uid, keep.st_gid, stat.S_IMODE(keep.st_mode)) == (0, 0, 0o644)
    assert open(os.path.join(target, "keep")).read() == "root's\n"


@needs_root
def test_a_job_dir_planted_as_a_symlink_is_not_followed(area, user, start_jobs):
    entry, workdir = user
    target = root_only_dir(area)
    spool = os.path.join(area, "spool")
    reports = Reports()
    running = start_jobs(spool, reports)
    os.symlink(target, os.path.join(spool, "job21"))          # the old /tmp spool allowed anyone this
    os.mkdir(os.path.join(spool, "job22"))                    # a stale dir whose entries point at root's files
    os.symlink(os.path.join(target, "keep"), os.path.join(spool, "job22", "script"))
    os.symlink(target, os.path.join(spool, "job22", "sub"))
    running.launch(user_launch(entry, workdir, 21, "#!/bin/sh\necho ran21\n"))
    running.launch(user_launch(entry, workdir, 22, "#!/bin/sh\necho ran22\n"))
    for report in reports.wait(2):
        assert report.end is JobEnd.EXITED and report.exit_code == 0, report
    assert_untouched(target)
    assert open(os.path.join(workdir, "out-21")).read() == "ran21\n"
    assert open(os.path.join(workdir, "out-22")).read() == "ran22\n"
    assert not os.path.lexists(os.path.join(spool, "job21")) and not os.path.lexists(os.path.join(spool, "job22"))


@needs_root
def test_a_job_cannot_make_root_report_a_root_only_file(area, user, start_jobs, tmp_path):
    entry, workdir = user
    secret = tmp_path / "secret"
    secret.write_text("the-root-only-secret\n")
    secret.chmod(0o600)
    spool = os.path.join(area, "spool")
    reports = Reports()
    running = start_jobs(spool, reports)
    # Every place the start-up log might be, old layout and new: replace it with a link to the secret.
    candidates = [f"{spool}/job31/start-errors", f"{spool}/private/job31.start-errors",
                  f"{spool}/private/job31/start-errors", f"{spool}/job31.start-errors"]
    script = "#!/bin/sh\n" + "".join(
        f"rm -f '{c}' 2>/dev/null; ln -s '{secret}' '{c}' 2>/dev/null && echo 'replaced {c}'\n" for c in candidates
    ) + "echo finished\n"
    running.launch(user_launch(entry, workdir, 31, script))
    (report,) = reports.wait()
    assert report.end is JobEnd.EXITED and report.exit_code == 0, report
    assert "secret" not in report.detail and report.detail == ""
    assert open(os.path.join(workdir, "out-31")).read() == "finished\n"   # no link was made anywhere
    assert secret.read_text() == "the-root-only-secret\n" and os.stat(secret).st_uid == 0
    assert os.listdir(os.path.join(spool, "private")) == []


@needs_root
def test_the_start_up_shells_complaint_is_still_reported(area, user, start_jobs):
    entry, workdir = user
    closed = os.path.join(area, "closed")
    os.mkdir(closed, 0o755)              # root's: the user cannot create their output here
    reports = Reports()
    running = start_jobs(os.path.join(area, "spool"), reports)
    running.launch(user_launch(entry, workdir, 41, "#!/bin/sh\necho never\n", stdout=os.path.join(closed, "out")))
    (report,) = reports.wait()
    assert report.exit_code != 0 and "Permission denied" in report.detail, report
    assert os.listdir(closed) == []


# ------------------------------------------------------------ the honest path


@needs_root
def test_another_users_job_runs_its_script_from_the_spool(area, user, start_jobs):
    entry, workdir = user
    spool = os.path.join(area, "spool")
    reports = Reports()
    running = start_jobs(spool, reports)
    go = os.path.join(workdir, "go")
    running.launch(user_launch(entry, workdir, 51, (
        "#!/bin/sh\nid -u\ncat \"$0\" >/dev/null && echo readable\necho started > started\n"
        f"while [ ! -e {go} ]; do sleep 0.02; done\necho done\n")))
    wait_until(lambda: os.path.exists(os.path.join(workdir, "started")), what="the job to start")
    job_dir, script = os.path.join(spool, "job51"), os.path.join(spool, "job51", "script")
    d, s = os.lstat(job_dir), os.lstat(script)
    assert stat.S_ISDIR(d.st_mode) and (d.st_uid, stat.S_IMODE(d.st_mode)) == (0, 0o711)
    assert stat.S_ISREG(s.st_mode) and (s.st_uid, s.st_gid, stat.S_IMODE(s.st_mode)) == (
        entry.pw_uid, entry.pw_gid, 0o700)
    # The job's user can neither list nor add to the job dir; someone else cannot read the script.
    assert as_user(entry.pw_uid, entry.pw_gid, "touch", os.path.join(job_dir, "planted")).returncode != 0
    assert as_user(entry.pw_uid, entry.pw_gid, "ls", job_dir).returncode != 0
    assert as_user(65534, 65534, "cat", script).returncode != 0
    assert as_user(entry.pw_uid, entry.pw_gid, "ls", os.path.join(spool, "private")).returncode != 0
    open(go, "w").close()
    (report,) = reports.wait()
    assert report.end is JobEnd.EXITED and report.exit_code == 0, report
    assert open(os.path.join(workdir, "out-51")).read().splitlines() == [str(entry.pw_uid), "readable", "done"]
    assert os.stat(os.path.join(workdir, "out-51")).st_uid == entry.pw_uid
    assert not os.path.lexists(job_dir)
