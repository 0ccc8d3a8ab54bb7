"""Advance reservations through the Slurm-compatible commands: scontrol create, update, delete and show
reservation, sinfo -T, sbatch --reservation and squeue's reservation column.

Expected outputs, messages and exit codes are those a real Slurm 22.05 (../shared/slurm-ref) gave
for the same command lines, with JEM's node names and CPU counts. Every test starts with no
reservation (the autouse fixture deletes what a test left) and holds its jobs (-H), so that
nothing here depends on what the scheduler does with a reservation's jobs.
"""

import os
import pwd
import re
import textwrap

import pytest
from slurm_cluster import other_user  # noqa: F401  (a fixture)
from slurm_cluster import as_user, python_for_others, slurm, start_cluster, stop_cluster, wait_for, wait_for_state

ME = pwd.getpwuid(os.getuid()).pw_name
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WHEN = "2030-01-07T10:00:00"   # a window in the future: INACTIVE, and no job can be in its way
ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(str(tmp_path_factory.mktemp("reservations")), n_nodes=3)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


@pytest.fixture(autouse=True)
def no_reservations_left(cluster):
    yield
    for name in re.findall(r"^ReservationName=(\S+)", scontrol(cluster, "show", "-o", "res").stdout, re.M):
        assert scontrol(cluster, "delete", f"ReservationName={name}").returncode == 0


def scontrol(cluster, *argv: str):
    return slurm(cluster, "scontrol", *argv)


def expect(result, stdout: str = "", stderr: str = "", code: int = 0) -> None:
    assert (result.stdout, result.stderr, result.returncode) == (stdout, stderr, code)


def lines(text: str) -> str:
    """Text written as `|`-led lines (so that trailing blanks and blank lines stay visible)."""
    return "".join(line.split("|", 1)[1] + "\n" for line in textwrap.dedent(text).strip("\n").splitlines())


def create(cluster, *settings: str) -> None:
    name = next(s.split("=", 1)[1] for s in settings if s.lower().startswith("reservationname="))
    expect(scontrol(cluster, "create", "reservation", *settings), f"Reservation created: {name}\n")


def maint(cluster) -> None:
    create(cluster, "ReservationName=maint", f"StartTime={WHEN}", "Duration=120", "Nodes=n[1-2]",
           f"Users={ME}", "Flags=MAINT")


BUSY_NOTE = ("Note, unless nodes are directly requested a reservation must exist in a single partition.\n"
             "If no partition is requested the default partition is assumed.\n")
MAINT_RECORD = lines(f"""
    |ReservationName=maint StartTime=2030-01-07T10:00:00 EndTime=2030-01-07T12:00:00 Duration=02:00:00
    |   Nodes=n[1-2] NodeCnt=2 CoreCnt=8 Features=(null) PartitionName=(null) Flags=MAINT,SPEC_NODES
    |   TRES=cpu=8
    |   Users={ME} Groups=(null) Accounts=(null) Licenses=(null) State=INACTIVE BurstBuffer=(null) Watts=n/a
    |   MaxStartDelay=(null)
    |
    """)


def test_no_reservations_is_said_as_slurm_says_it(cluster):
    for argv in (["scontrol", "show", "reservation"], ["scontrol", "show", "res"], ["scontrol", "-o", "show", "res"],
                 ["sinfo", "-T"], ["sinfo", "--reservation", "-h"]):
        expect(slurm(cluster, *argv), "No reservations in the system\n")


def test_create_on_named_nodes_and_show_it_as_slurm_does(cluster):
    maint(cluster)
    expect(scontrol(cluster, "show", "reservation", "maint"), MAINT_RECORD)
    expect(scontrol(cluster, "show", "ReservationName=maint"), MAINT_RECORD)
    expect(scontrol(cluster, "show", "-o", "res", "maint"), " ".join(
        line.strip() for line in MAINT_RECORD.splitlines() if line) + "\n")
    expect(scontrol(cluster, "show", "res", "nosuch"), "Reservation nosuch not found\n", code=1)
    expect(scontrol(cluster, "show", "res", "maint", "extra"), "", "too many arguments for keyword:show\n", 1)


def test_create_by_node_count_picks_from_the_default_partition(cluster):
    expect(scontrol(cluster, "create", "res", "reservationname=soon", "starttime=now", "dur=60", "nodecnt=1",
                    f"users={ME}"), "Reservation created: soon\n")
    shown = scontrol(cluster, "show", "res", "soon")
    match = re.fullmatch(lines(f"""
        |ReservationName=soon StartTime=({ISO}) EndTime=({ISO}) Duration=01:00:00
        |   Nodes=n1 NodeCnt=1 CoreCnt=4 Features=\\(null\\) PartitionName=debug Flags=
        |   TRES=cpu=4
        |   Users={ME} Groups=\\(null\\) Accounts=\\(null\\) Licenses=\\(null\\) State=ACTIVE BurstBuffer=\\(null\\) Watts=n/a
        |   MaxStartDelay=\\(null\\)
        |
        """), shown.stdout)
    assert match and shown.returncode == 0, shown
    start, end = match.groups()
    row = slurm(cluster, "sinfo", "-T", "-h").stdout
    assert row == f"soon         ACTIVE  {start}  {end}     01:00:00  n1\n"
    # More nodes than the partition can give: Slurm's note, then its busy error.
    expect(scontrol(cluster, "create", "res", "ReservationName=big", "StartTime=now", "Duration=10", "NodeCnt=9",
                    f"Users={ME}"), BUSY_NOTE, "Error creating the reservation: Requested nodes are busy\n", 1)


def test_nodes_a_running_job_holds_are_busy_unless_ignore_jobs(cluster):
    job = slurm(cluster, "sbatch", "--parsable", "-t", "10", "-o", "/dev/null", "--wrap", "sleep 300").stdout.strip()
    try:
        node = wait_for(lambda: slurm(cluster, "squeue", "-h", "-t", "R", "-j", job, "-o", "%N").stdout.strip(),
                        timeout_s=30, what=f"job {job} to run")
        settings = ["StartTime=now", "Duration=10", f"Nodes={node}", "Accounts=elsewhere"]
        expect(scontrol(cluster, "create", "res", "ReservationName=x", *settings), BUSY_NOTE,
               "Error creating the reservation: Requested nodes are busy\n", 1)
        create(cluster, "ReservationName=anyway", *settings, "Flags=IGNORE_JOBS")
    finally:
        assert slurm(cluster, "scancel", job).returncode == 0
        wait_for_state(cluster, job, {"CANCELLED"})


def test_show_and_sinfo_list_every_reservation(cluster):
    maint(cluster)
    create(cluster, "ReservationName=a_rather_long_reservation_name", "StartTime=2030-02-01T00:00:00",
           "EndTime=2030-02-02T06:30:00", "Nodes=n3", "Accounts=physics,chem", "Flags=WEEKLY,IGNORE_JOBS,OVERLAP")
    expect(scontrol(cluster, "show", "res"), lines("""
        |ReservationName=a_rather_long_reservation_name StartTime=2030-02-01T00:00:00 EndTime=2030-02-02T06:30:00 Duration=1-06:30:00
        |   Nodes=n3 NodeCnt=1 CoreCnt=4 Features=(null) PartitionName=(null) Flags=OVERLAP,IGNORE_JOBS,WEEKLY,SPEC_NODES
        |   TRES=cpu=4
        |   Users=(null) Groups=(null) Accounts=physics,chem Licenses=(null) State=INACTIVE BurstBuffer=(null) Watts=n/a
        |   MaxStartDelay=(null)
        |
        """) + MAINT_RECORD)
    rows = lines("""
        |a_rather_long_reservation_name  INACTIVE  2030-02-01T00:00:00  2030-02-02T06:30:00   1-06:30:00  n3
        |maint                           INACTIVE  2030-01-07T10:00:00  2030-01-07T12:00:00     02:00:00  n[1-2]
        """)
    expect(slurm(cluster, "sinfo", "-T"), "RESV_NAME                          STATE           START_TIME      "
                                          "       END_TIME     DURATION  NODELIST\n" + rows)
    expect(slurm(cluster, "sinfo", "--reservation", "-h", "-p", "debug", "-o", "%P"), rows)


def test_update_changes_only_what_it_names(cluster):
    if "nobody" not in {p.pw_name for p in pwd.getpwall()}:
        pytest.skip("needs a user named nobody")
    maint(cluster)
    expect(scontrol(cluster, "update", "ReservationName=maint", "Duration=180", "Users+=nobody",
                    "Flags+=IGNORE_JOBS"), "Reservation updated.\n")
    expect(scontrol(cluster, "show", "res", "maint"),
           MAINT_RECORD.replace("12:00:00 Duration=02", "13:00:00 Duration=03")
           .replace("MAINT,SPEC", "MAINT,IGNORE_JOBS,SPEC").replace(f"Users={ME}", f"Users={ME},nobody"))
    # A new start keeps the duration; - removes users and flags.
    expect(scontrol(cluster, "update", "Reservation=maint", "StartTime=2030-01-07T09:00:00", "Users-=nobody",
                    "Flags=-MAINT,IGNORE_JOBS"), "Reservation updated.\n")
    expect(scontrol(cluster, "show", "res", "maint"), MAINT_RECORD.replace("10:00:00", "09:00:00")
           .replace("EndTime=2030-01-07T12:00:00 Duration=02", "EndTime=2030-01-07T12:00:00 Duration=03")
           .replace("Flags=MAINT,SPEC_NODES", "Flags=SPEC_NODES"))
    for argv, message in ((["ReservationName=nosuch", "Duration=10"], "Requested reservation is invalid"),
                          (["ReservationName=maint", "Users="], "Reservation request lacks users, groups or accounts"),
                          (["ReservationName=maint", "EndTime=2030-01-07T08:00:00"], "Invalid time specified"),
                          (["ReservationName=maint", "Nodes=n9"], "Invalid node name specified")):
        expect(scontrol(cluster, "update", *argv), "",
               f"Error updating the reservation: {message}\nslurm_update error: {message}\n", 1)
    expect(scontrol(cluster, "update", "ReservationName=maint", "Duration=abc"), "",
           "scontrol: error: Invalid duration Duration=abc.  No reservation update.\nslurm_update error: No error\n", 1)


def test_flex_and_magnetic_are_taken_and_shown_in_slurms_order(cluster):
    create(cluster, "ReservationName=drawn", f"StartTime={WHEN}", "Duration=60", "Nodes=n3", f"Users={ME}",
           "Flags=MAGNETIC,FLEX")
    record = scontrol(cluster, "show", "-o", "res", "drawn").stdout
    assert " Flags=FLEX,SPEC_NODES,MAGNETIC " in record
    expect(scontrol(cluster, "update", "ReservationName=drawn", "Flags-=FLEX"), "Reservation updated.\n")
    assert " Flags=SPEC_NODES,MAGNETIC " in scontrol(cluster, "show", "-o", "res", "drawn").stdout
    expect(scontrol(cluster, "delete", "ReservationName=drawn"))


def test_a_reservation_of_cores_is_made_shown_and_shares_its_node(cluster):
    create(cluster, "ReservationName=cores", f"StartTime={WHEN}", "Duration=60", "Nodes=n3", "CoreCnt=2",
           f"Users={ME}")
    record = scontrol(cluster, "show", "-o", "res", "cores").stdout
    assert " NodeCnt=1 CoreCnt=2 " in record and " TRES=cpu=2 " in record
    # Another reservation of the other cores of n3 at the same time fits beside it; more do not.
    create(cluster, "ReservationName=more", f"StartTime={WHEN}", "Duration=60", "Nodes=n3", "CoreCnt=2",
           f"Users={ME}")
    full = ["ReservationName=full", f"StartTime={WHEN}", "Duration=60", "Nodes=n3", "CoreCnt=1", f"Users={ME}"]
    result = scontrol(cluster, "create", "reservation", *full)
    assert result.returncode == 1 and "Error creating the reservation" in result.stderr
    # CoreCnt= changes (Slurm 22.05 refuses: "Core-based reservation can not be updated"); to 1, a core is free.
    result = scontrol(cluster, "update", "ReservationName=cores", "CoreCnt=3")
    assert result.returncode == 1 and result.stderr.startswith("Error updating the reservation: ")
    expect(scontrol(cluster, "update", "ReservationName=cores", "CoreCnt=1"), "Reservation updated.\n")
    assert "CoreCnt=1 Features=(null) PartitionName=(null) Flags=SPEC_NODES   NodeName=n3 CoreIDs=0 TRES=cpu=1 " in \
        scontrol(cluster, "show", "-o", "res", "cores").stdout
    create(cluster, *full)
    for name in ("cores", "more", "full"):
        expect(scontrol(cluster, "delete", f"ReservationName={name}"))


def test_a_core_count_per_node_is_made_shown_and_updated(cluster):
    """CoreCnt=1,3: the counts go to the nodes in node order (n2, n3) whatever order Nodes= names
    them in, as Slurm gives them; show prints Slurm's NodeName= CoreIDs= line for each node."""
    create(cluster, "ReservationName=pn", f"StartTime={WHEN}", "Duration=60", "Nodes=n3,n2", "CoreCnt=1,3",
           f"Users={ME}")
    expect(scontrol(cluster, "show", "res", "pn"), lines(f"""
        |ReservationName=pn StartTime=2030-01-07T10:00:00 EndTime=2030-01-07T11:00:00 Duration=01:00:00
        |   Nodes=n[2-3] NodeCnt=2 CoreCnt=4 Features=(null) PartitionName=(null) Flags=SPEC_NODES
        |     NodeName=n2 CoreIDs=0
        |     NodeName=n3 CoreIDs=0-2
        |   TRES=cpu=4
        |   Users={ME} Groups=(null) Accounts=(null) Licenses=(null) State=INACTIVE BurstBuffer=(null) Watts=n/a
        |   MaxStartDelay=(null)
        |
        """))
    settings = ["ReservationName=x", f"StartTime={WHEN}", "Duration=60", f"Users={ME}"]
    inconsistent = "Core count for reservation node list is not consistent!"
    for words in (["Nodes=n1", "CoreCnt=1,3"], ["Nodes=n1,n2,n3", "CoreCnt=1,3"], ["Nodes=n1,n2", "CoreCnt=1,0"],
                  ["NodeCnt=3", "CoreCnt=1,3"], ["CoreCnt=1,3"]):
        expect(scontrol(cluster, "create", "res", *settings, *words), "",
               f"Error creating the reservation: {inconsistent}\n", 1)
    expect(scontrol(cluster, "create", "res", *settings, "Nodes=n1", "CoreCnt=1,a"), "",
           "scontrol: error: Invalid core count 1,a\n", 1)
    expect(scontrol(cluster, "update", "ReservationName=pn", "CoreCnt=3,1"), "Reservation updated.\n")
    assert " CoreCnt=4 Features=(null) PartitionName=(null) Flags=SPEC_NODES   NodeName=n2 CoreIDs=0-2   " \
           "NodeName=n3 CoreIDs=0 TRES=cpu=4 " in scontrol(cluster, "show", "-o", "res", "pn").stdout
    expect(scontrol(cluster, "update", "ReservationName=pn", "CoreCnt=1,2,3"), "",
           f"Error updating the reservation: {inconsistent}\nslurm_update error: {inconsistent}\n", 1)
    expect(scontrol(cluster, "update", "ReservationName=pn", "CoreCnt=6"), "Reservation updated.\n")
    assert " CoreCnt=6 Features=(null) PartitionName=(null) Flags=SPEC_NODES   NodeName=n2 CoreIDs=0-2   " \
           "NodeName=n3 CoreIDs=0-2 TRES=cpu=6 " in scontrol(cluster, "show", "-o", "res", "pn").stdout
    expect(scontrol(cluster, "delete", "ReservationName=pn"))
    # With NodeCnt=, the controller picks as many nodes as there are counts.
    create(cluster, "ReservationName=picked", f"StartTime={WHEN}", "Duration=60", "NodeCnt=2", "CoreCnt=1,3",
           f"Users={ME}")
    assert re.search(r" NodeCnt=2 CoreCnt=4 .*   NodeName=n\d CoreIDs=0   NodeName=n\d CoreIDs=0-2 TRES=cpu=4 ",
                     scontrol(cluster, "show", "-o", "res", "picked").stdout)


def test_delete_is_silent_and_names_what_it_could_not_delete(cluster):
    maint(cluster)
    expect(scontrol(cluster, "delete", "ReservationName=maint"))
    expect(scontrol(cluster, "show", "res"), "No reservations in the system\n")
    expect(scontrol(cluster, "delete", "ReservationName=maint"), "",
           "delete_reservation ReservationName=maint: Requested reservation is invalid\n", 1)
    expect(scontrol(cluster, "delete", "res", "maint"), "",
           "delete_reservation res: Requested reservation is invalid\n", 1)
    expect(scontrol(cluster, "delete", "maint"), "",
           "scontrol: error: Proper format is 'delete <ENTITY>=<ID>' or 'delete <ENTITY> <ID>'\n", 1)
    expect(scontrol(cluster, "delete", "Bogus=1"), "", "Invalid deletion entity: Bogus=1\n", 1)


CREATE_ERRORS = [
    # (settings after `create reservation`, stderr); each exits 1 with nothing on stdout.
    (["ReservationName=maint", "StartTime=now", "Duration=10", "Nodes=n3", f"Users={ME}"],
     "Error creating the reservation: Duplicate reservation name\n"),
    (["ReservationName=x", f"StartTime={WHEN}", "Duration=10", "Nodes=n2", f"Users={ME}"],
     "Error creating the reservation: Requested reservation overlaps with another reservation\n"),
    (["ReservationName=x", "StartTime=now", "Duration=10", "Nodes=n9", f"Users={ME}"],
     "Error creating the reservation: Invalid node name specified\n"),
    (["ReservationName=x", "StartTime=now", "Duration=10", "Nodes=n3", "Users=no_such_user_here"],
     "Error creating the reservation: Invalid user id\n"),
    (["ReservationName=x", "StartTime=now", "Duration=10", "Nodes=n3", f"Users={ME}", "PartitionName=nosuch"],
     "Error creating the reservation: Invalid partition name specified\n"),
    (["ReservationName=x", "Duration=10", "Nodes=n3", f"Users={ME}"],
     "scontrol: error: A start time must be given.  No reservation created.\n"),
    (["ReservationName=x", "StartTime=now", "Nodes=n3", f"Users={ME}"],
     "scontrol: error: An end time or duration must be given.  No reservation created.\n"),
    (["ReservationName=x", "StartTime=now", "Duration=10", f"Users={ME}"],
     "scontrol: error: CoreCnt, Nodes, NodeCnt, BurstBuffer, Licenses or Watts must be specified.  "
     "No reservation created.\n"),
    (["ReservationName=x", "StartTime=now", "Duration=10", "Nodes=n3"],
     "scontrol: error: Either Users/Groups and/or Accounts must be specified.  No reservation created.\n"),
    (["ReservationName=x", "StartTime=bogus", "Duration=10", "Nodes=n3", f"Users={ME}"],
     "Invalid time specification (pos=0): bogus\n"
     "scontrol: error: Invalid start time StartTime=bogus.  No reservation created.\n"),
    (["ReservationName=x", "StartTime=now", "Duration=abc", "Nodes=n3", f"Users={ME}"],
     "scontrol: error: Invalid duration Duration=abc.  No reservation created.\n"),
    (["ReservationName=x", "StartTime=2030-05-05T10:00", "Duration=30", "EndTime=2030-05-05T11:00", "Nodes=n3",
      f"Users={ME}"], "scontrol: error: StartTime + Duration does not equal EndTime.  No reservation created.\n"),
    (["ReservationName=x", "StartTime=now", "EndTime=2020-01-01T00:00:00", "Nodes=n3", f"Users={ME}"],
     "scontrol: error: Start time cannot be after end time.  No reservation created.\n"),
    (["ReservationName=x", "StartTime=now", "Duration=10", "Nodes=n3", f"Users={ME}", "Flags=BOGUS"],
     "scontrol: error: Error parsing flags BOGUS.  No reservation created.\n"),
    (["ReservationName=x", "StartTime=now", "Duration=10", "Nodes=n3", f"Users={ME}", "Bogus=1"],
     "scontrol: error: Unknown parameter Bogus=1.  No reservation created.\n"),
    (["ReservationName=x", "StartTime=now", "Duration=10", "Node=n3", f"Users={ME}"],
     "scontrol: error: Unknown parameter Node=n3.  No reservation created.\n"),
    (["ReservationName=x", "StartTime=now", "Duration=10", "Nodes=n3", f"Users={ME}", "Users=nobody"],
     "scontrol: error: Parameter Users=nobody specified more than once\n"),
    (["ReservationName=x", "StartTime=now", "Duration=10", "NodeCnt=abc", f"Users={ME}"],
     "scontrol: error: Invalid node count abc\n"),
    # Slurm's, but not JEM's: refused by name.
    (["ReservationName=x", "StartTime=now", "Duration=10", "Nodes=n3", f"Users={ME}", "Flags=WEEKDAY"],
     "scontrol: error: Flags=WEEKDAY is not supported yet by JEM\n"),
    (["ReservationName=x", "StartTime=now", "Duration=10", "Nodes=n3", f"Users={ME}", "Features=big"],
     "scontrol: error: Features is not supported yet by JEM\n"),
]


def test_create_errors_are_slurms(cluster):
    maint(cluster)
    for settings, stderr in CREATE_ERRORS:
        expect(scontrol(cluster, "create", "reservation", *settings), "", stderr, 1)
    expect(scontrol(cluster, "create"), "", "too few arguments for create keyword\n", 1)
    expect(scontrol(cluster, "create", "Bogus=1"), "", "scontrol: error: Invalid creation entity: Bogus=1\n", 1)
    expect(scontrol(cluster, "show", "-o", "res"), " ".join(line.strip() for line in MAINT_RECORD.splitlines()
                                                            if line) + "\n")   # nothing else was made


def job_ids(cluster) -> list[str]:
    return slurm(cluster, "squeue", "-t", "all", "-h", "-o", "%i").stdout.split()


def test_sbatch_reservation_is_sent_shown_and_checked(cluster, tmp_path):
    create(cluster, "ReservationName=work", "StartTime=now", "Duration=60", "Nodes=n3", f"Users={ME}")
    create(cluster, "ReservationName=theirs", "StartTime=now", "Duration=60", "Nodes=n2", "Accounts=elsewhere")
    before = job_ids(cluster)
    for name, message in (("nosuch", "Requested reservation is invalid"),
                          ("theirs", "Access denied to requested reservation")):
        expect(slurm(cluster, "sbatch", f"--reservation={name}", "--wrap", "true"), "",
               f"sbatch: error: Batch job submission failed: {message}\n", 1)
    assert job_ids(cluster) == before
    script = tmp_path / "in_work.sh"
    script.write_text("#!/bin/sh\n#SBATCH --reservation=work\ntrue\n")
    held = [slurm(cluster, "sbatch", "--parsable", "-H", *args) for args in
            (["--reservation=work", "--wrap", "true"], [str(script)], ["--wrap", "true"])]
    assert [(r.returncode, r.stderr) for r in held] == [(0, "")] * 3
    ids = [r.stdout.strip() for r in held]
    try:
        expect(slurm(cluster, "squeue", "-j", ",".join(ids), "-S", "i", "-o", "%.8i %v %.9P"), lines(f"""
            |   JOBID RESERVATION PARTITION
            |{ids[0]:>8} work     debug
            |{ids[1]:>8} work     debug
            |{ids[2]:>8} (null)     debug
            """))
        expect(slurm(cluster, "squeue", "-j", ids[0], "-O", "jobid,reservation"), lines(f"""
            |JOBID               RESERVATION         
            |{ids[0]:<20}work                
            """))
        shown = scontrol(cluster, "show", "job", ids[0]).stdout
        assert "   Features=(null) DelayBoot=00:00:00\n   Reservation=work\n   OverSubscribe=" in shown
        assert "Reservation=" not in scontrol(cluster, "show", "job", ids[2]).stdout
    finally:
        assert slurm(cluster, "scancel", *ids).returncode == 0


# ---------------------------------------------------------------- another Unix user

def test_another_user_may_look_but_not_create_change_or_delete(cluster, other_user):
    python = python_for_others()
    probe = python and as_user(cluster, other_user, "scontrol", "show", "res", python=python)
    if not probe or probe.returncode != 0:
        pytest.skip(f"no Python this checkout runs under that another user may run: {probe and probe.stderr}")
    maint(cluster)
    expect(as_user(cluster, other_user, "scontrol", "show", "res", python=python), MAINT_RECORD)
    expect(as_user(cluster, other_user, "scontrol", "create", "res", "ReservationName=mine", "StartTime=now", "Duration=10",
                   "Nodes=n3", f"Users={other_user.pw_name}", python=python), "",
           "Error creating the reservation: Invalid user id\n", 1)
    expect(as_user(cluster, other_user, "scontrol", "update", "ReservationName=maint", "Duration=10", python=python), "",
           "Error updating the reservation: Invalid user id\nslurm_update error: Invalid user id\n", 1)
    expect(as_user(cluster, other_user, "scontrol", "delete", "ReservationName=maint", python=python), "",
           "delete_reservation ReservationName=maint: Invalid user id\n", 1)
    expect(scontrol(cluster, "show", "res"), MAINT_RECORD)
