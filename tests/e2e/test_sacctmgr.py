"""sacctmgr on a real cluster: Slurm 22.05's output byte for byte (the transcripts of the real
command are the reference), its commit prompt, its errors and exit codes, a second Unix user's
refused changes, and a limit set with it pending a job with Slurm's reason.

The cluster's name is the controller's ([cluster] name; `jem up` names it "local": C = local).
Each test names its own accounts and removes what it made, so they share one cluster.
"""

import os
import pwd

import pytest
from slurm_cluster import other_user  # noqa: F401  (a fixture)
from slurm_cluster import as_user, python_for_others, slurm, start_cluster, stop_cluster, wait_for, wait_for_state

ME = pwd.getpwuid(os.getuid()).pw_name
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(REPO, "tests", "e2e", "golden", "sacctmgr")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = start_cluster(str(tmp_path_factory.mktemp("sacctmgr")), n_nodes=2)
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


def sacctmgr(cluster, *argv: str, stdin: str = ""):
    return slurm(cluster, "sacctmgr", *argv, stdin=stdin)


def expect(result, stdout: str = "", stderr: str = "", code: int = 0) -> None:
    assert (result.stdout, result.stderr, result.returncode) == (stdout, stderr, code)


def golden(name: str) -> str:
    """Expected output kept in tests/e2e/golden/sacctmgr (tables wider than a source line)."""
    with open(os.path.join(GOLDEN, name)) as f:
        return f.read()


def lines(text: str) -> str:
    """Expected output written with a "|" margin (so leading and trailing spaces show: Slurm pads
    every column and starts many lines with a space)."""
    return "".join(line.split("|", 1)[1] + "\n" for line in text.splitlines() if line.strip())


def test_version_help_and_command_line_errors(cluster):
    expect(sacctmgr(cluster, "-V"), "slurm 22.05.8\n")
    assert sacctmgr(cluster, "--help").stdout.startswith("sacctmgr [<OPTION>] [<COMMAND>]\n")
    expect(sacctmgr(cluster, "--bogus", "show", "account"),
           stderr="sacctmgr: unrecognized option '--bogus'\nTry \"sacctmgr --help\" for more information\n", code=1)
    expect(sacctmgr(cluster, "-z", "show", "account"),
           stderr="sacctmgr: invalid option -- 'z'\nTry \"sacctmgr --help\" for more information\n", code=1)
    expect(sacctmgr(cluster, "show", "bogus"), stderr=lines("""
        |No valid entity in list command
        |Input line must include "Account", "Association", "Cluster", "Configuration",
        |"Event", "Federation", "Problem", "QOS", "Resource", "Reservation",
        |"RunAwayJobs", "Stats", "Transaction", "TRES", "User", or "WCKey"
        """), code=1)
    expect(sacctmgr(cluster, "-i", "add", "bogus", "x"), stderr=lines("""
        |No valid entity in add command
        |Input line must include "Account", "Cluster", "Coordinator", "Federation", "QOS", "Resource", or "User"
        """), code=1)
    expect(sacctmgr(cluster, "bogus"), stderr="invalid keyword: bogus\n", code=1)
    expect(sacctmgr(cluster, "-r", "-i", "add", "account", "ro1"),
           stderr="Can't run this command in readonly mode.\n", code=1)
    expect(sacctmgr(cluster, "show", "assoc", "format=account,bogus"), stderr="Unknown field 'bogus'\n", code=1)
    expect(sacctmgr(cluster, "show", "qos", "format=name,bogus", "-P"), stderr="Unknown field 'bogus'\n", code=1)
    expect(sacctmgr(cluster, "show", "cluster"), stderr="sacctmgr: error: show cluster is not supported by JEM\n",
           code=1)


ADD_PHYSICS = lines("""
    | Adding Account(s)
    |  physics
    | Settings
    |  Description     = physics
    |  Organization    = sci
    | Associations
    |  A = physics    C = local     
    | Settings
    |  Parent        = root
    """)
PROMPT = "Would you like to commit changes? (You have 30 seconds to decide)\n(N/y): \n"


def test_add_account_asks_first_and_commits_only_on_y(cluster):
    args = ("add", "account", "physics", "Description=Physics", "Organization=sci")
    expect(sacctmgr(cluster, *args, stdin="n\n"), ADD_PHYSICS + PROMPT + " Changes Discarded\n")
    expect(sacctmgr(cluster, *args), ADD_PHYSICS + PROMPT + " Changes Discarded\n")   # end of input: no
    expect(sacctmgr(cluster, *args, stdin="x\n"),
           ADD_PHYSICS + PROMPT + "Y or N please\n(N/y): \n Changes Discarded\n")
    expect(sacctmgr(cluster, "show", "account", "physics", "-P"), "Account|Descr|Org\n")
    expect(sacctmgr(cluster, *args, stdin="y\n"), ADD_PHYSICS + PROMPT)
    expect(sacctmgr(cluster, "show", "account", "physics", "-P"), "Account|Descr|Org\nphysics|physics|sci\n")
    expect(sacctmgr(cluster, "-i", *args), " Nothing new added.\n", code=1)
    expect(sacctmgr(cluster, "add", "account", "physics", stdin="y\n"), " Nothing new added.\n", code=1)
    assert sacctmgr(cluster, "-i", "delete", "account", "physics").returncode == 0


def test_add_account_lowercases_names_and_texts_and_defaults_them(cluster):
    expect(sacctmgr(cluster, "-i", "add", "account", "Bio", 'Description="Bio Logy"', "Organization=MixedCase"),
           lines("""
        | Adding Account(s)
        |  bio
        | Settings
        |  Description     = bio logy
        |  Organization    = mixedcase
        | Associations
        |  A = bio        C = local     
        | Settings
        |  Parent        = root
        """))
    expect(sacctmgr(cluster, "-i", "add", "account", "MathDept", "parent=bio"), lines("""
        | Adding Account(s)
        |  mathdept
        | Settings
        |  Description     = Account Name
        |  Organization    = Parent/Account Name
        | Associations
        |  A = mathdept   C = local     
        | Settings
        |  Parent        = bio
        """))
    expect(sacctmgr(cluster, "-i", "add", "account", "orphan", "parent=nosuch"), stderr=lines("""
        | Parent account 'nosuch' doesn't exist on cluster local
        |        Contact your admin to add this account.
        | No associations created.
        """), code=1)
    expect(sacctmgr(cluster, "show", "account", "bio,mathdept"), lines("""
        |   Account                Descr                  Org 
        |---------- -------------------- -------------------- 
        |       bio             bio logy            mixedcase 
        |  mathdept             mathdept                  bio 
        """))
    expect(sacctmgr(cluster, "-i", "delete", "account", "bio"), " Deleting accounts...\n  bio\n")
    expect(sacctmgr(cluster, "show", "account", "bio,mathdept", "-P", "-n"), "")


def test_add_user_to_accounts_with_a_default_account(cluster):
    for name in ("chem", "phys"):
        assert sacctmgr(cluster, "-i", "add", "account", name).returncode == 0
    expect(sacctmgr(cluster, "-i", "add", "user", "smalice", "account=phys"), lines("""
        | Adding User(s)
        |  smalice
        | Associations =
        |  U = smalice   A = phys       C = local     
        | Non Default Settings
        """))
    expect(sacctmgr(cluster, "-i", "add", "user", "smalice", "account=phys"), " Nothing new added.\n", code=1)
    expect(sacctmgr(cluster, "-i", "add", "user", "smbob", "DefaultAccount=chem"), lines("""
        | Adding User(s)
        |  smbob
        | Settings =
        |  Default Account = chem
        | Associations =
        |  U = smbob     A = chem       C = local     
        """))
    expect(sacctmgr(cluster, "add", "user", "smalice", "account=chem", "MaxJobs=2", stdin="y"), lines("""
        | Associations =
        |  U = smalice   A = chem       C = local     
        | Non Default Settings
        |  MaxJobs       = 2
        """) + PROMPT)
    nosuch = " This account 'nosuch' doesn't exist.\n        Contact your admin to add this account.\n"
    expect(sacctmgr(cluster, "-i", "add", "user", "smalice", "account=nosuch"), " Nothing new added.\n", nosuch, 1)
    expect(sacctmgr(cluster, "-i", "add", "user", "smdave", "DefaultAccount=nosuch"), " Nothing new added.\n",
           nosuch, 1)
    expect(sacctmgr(cluster, "-i", "add", "user", "smcarol"), stderr=" Need name of account to add user to.\n", code=1)
    expect(sacctmgr(cluster, "show", "user", "smalice,smbob"), lines("""
        |      User   Def Acct     Admin 
        |---------- ---------- --------- 
        |   smalice       phys      None 
        |     smbob       chem      None 
        """))
    expect(sacctmgr(cluster, "show", "user", "where", "name=smalice", "-s", "format=user,account,maxjobs,qos%30"),
           lines("""
        |      User    Account MaxJobs                            QOS 
        |---------- ---------- ------- ------------------------------ 
        |   smalice       chem       2                         normal 
        |   smalice       phys                                 normal 
        """))
    assert sacctmgr(cluster, "-i", "delete", "account", "chem,phys").returncode == 0
    expect(sacctmgr(cluster, "show", "user", "smalice,smbob", "-n"), "")


def test_add_and_modify_qos_and_show_it_in_every_style(cluster):
    expect(sacctmgr(cluster, "-i", "add", "qos", "high", "Priority=100", "MaxJobsPerUser=2", "MaxWall=00:10:00",
                    "Flags=DenyOnLimit"), lines("""
        | Adding QOS(s)
        |  high
        | Settings
        |  Description    = high
        |  Flags                    = DenyOnLimit
        |  MaxJobsPerUser = 2
        |  MaxWall                  = 00:10:00
        |  Priority                 = 100
        """))
    expect(sacctmgr(cluster, "-i", "add", "qos", "high"), " Nothing new added.\n", code=1)
    expect(sacctmgr(cluster, "modify", "qos", "high", "set", "MaxJobsPerUser=3", stdin="y\n"),
           " Modified qos...\n  high\n" + PROMPT)
    expect(sacctmgr(cluster, "-i", "modify", "qos", "high", "set", "MaxTRESPerJob=cpu=4", "GrpTRES=cpu=8,gres/gpu=2"),
           " Modified qos...\n  high\n")
    expect(sacctmgr(cluster, "-i", "modify", "qos", "nosuch", "set", "Priority=5"), " Nothing modified\n", code=1)
    expect(sacctmgr(cluster, "-i", "modify", "qos", "high", "set", "Bogus=1"),
           " Unknown option: Bogus=1\n Use keyword 'where' to modify condition\n", code=1)
    expect(sacctmgr(cluster, "-i", "modify", "qos", "high", "set", "GrpWall=10"),
           stderr="sacctmgr: error: GrpWall is not supported by JEM\n", code=1)
    expect(sacctmgr(cluster, "list", "qos", "normal,high"), golden("list_qos.txt"))   # Slurm's, byte for byte
    expect(sacctmgr(cluster, "show", "qos", "-P", "normal,high"), golden("show_qos_P.txt"))
    expect(sacctmgr(cluster, "show", "qos", "format=name,priority,maxwall,maxtrespu,flags", "-p", "-n"),
           "normal|0||||\nhigh|100|00:10:00||DenyOnLimit|\n")
    expect(sacctmgr(cluster, "show", "qos", "where", "name=high",
                    "format=name,maxtres,grptres%30,maxjobspu,maxwall,flags%20"), lines("""
        |      Name       MaxTRES                        GrpTRES MaxJobsPU     MaxWall                Flags 
        |---------- ------------- ------------------------------ --------- ----------- -------------------- 
        |      high         cpu=4               cpu=8,gres/gpu=2         3    00:10:00          DenyOnLimit 
        """))
    expect(sacctmgr(cluster, "-i", "modify", "qos", "high", "set", "MaxJobsPerUser=-1", "MaxWall=-1", "Flags=-1",
                    "MaxTRESPerJob=cpu=-1", "GrpTRES=cpu=-1,gres/gpu=-1"), " Modified qos...\n  high\n")
    expect(sacctmgr(cluster, "show", "qos", "high", "format=name,priority,flags,maxtres,grptres,maxjobspu,maxwall",
                    "-P", "-n"), "high|100|||||\n")
    expect(sacctmgr(cluster, "-i", "delete", "qos", "high"), " Deleting QOS(s)...\n  high\n")
    expect(sacctmgr(cluster, "-i", "delete", "qos", "high"), " Nothing deleted\n", code=1)


def test_modify_accounts_and_users_and_show_the_associations(cluster):
    assert sacctmgr(cluster, "-i", "add", "qos", "fast").returncode == 0
    for account, parent in (("tphys", "root"), ("ttheory", "tphys")):
        assert sacctmgr(cluster, "-i", "add", "account", account, f"parent={parent}").returncode == 0
    for user in ("tua", "tub"):
        assert sacctmgr(cluster, "-i", "add", "user", user, "account=tphys").returncode == 0
    expect(sacctmgr(cluster, "-i", "modify", "account", "tphys", "set", "GrpTRES=cpu=4", "MaxJobs=3", "GrpJobs=5",
                    "MaxSubmitJobs=10", "MaxWall=1:00:00"), lines("""
        | Modified account associations...
        |  C = local      A = tphys of root
        |  C = local      A = tphys                U = tua      
        |  C = local      A = tphys                U = tub      
        """))
    expect(sacctmgr(cluster, "-i", "modify", "user", "tua", "set", "MaxJobs=1"), lines("""
        | Modified user associations...
        |  C = local      A = tphys                U = tua      
        """))
    expect(sacctmgr(cluster, "-i", "modify", "user", "where", "name=tua", "account=tphys", "set", "qos+=fast"),
           " Modified user associations...\n  C = local      A = tphys                U = tua      \n")
    expect(sacctmgr(cluster, "-i", "modify", "user", "where", "name=tub", "set", "defaultqos=fast"), stderr=lines("""
        | These associations don't have access to their default qos.
        | Please give them access before they the default can be set to this.
        |  DefQOS = fast       C = local      A = tphys                U = tub      
        """))
    expect(sacctmgr(cluster, "modify", "account", "ttheory", "set", "MaxWall=90", stdin="y"),
           " Modified account associations...\n  C = local      A = ttheory of tphys\n" + PROMPT)
    expect(sacctmgr(cluster, "show", "assoc", "where", "account=tphys,ttheory"), golden("show_assoc.txt"))
    expect(sacctmgr(cluster, "show", "assoc", "tree", "where", "account=tphys,ttheory", "format=account,user,maxjobs"),
           lines("""
        |Account                    User MaxJobs 
        |-------------------- ---------- ------- 
        |tphys                                 3 
        | tphys                      tua       1 
        | tphys                      tub       3 
        | ttheory                              3 
        """))
    expect(sacctmgr(cluster, "show", "assoc", "where", "account=tphys", "format=account%20,user%-8,maxjobs%3"),
           lines("""
        |             Account User     Max 
        |-------------------- -------- --- 
        |               tphys            3 
        |               tphys tua        1 
        |               tphys tub        3 
        """))
    expect(sacctmgr(cluster, "show", "assoc", "where", "account=tphys", "format=account,user,grptres,maxjobs", "-p"),
           "Account|User|GrpTRES|MaxJobs|\ntphys||cpu=4|3|\ntphys|tua||1|\ntphys|tub||3|\n")
    expect(sacctmgr(cluster, "show", "assoc", "where", "account=tphys", "format=account,user,grptres,maxjobs", "-n"),
           "     tphys                    cpu=4       3 \n     tphys        tua                     1 \n"
           "     tphys        tub                     3 \n")
    expect(sacctmgr(cluster, "show", "account", "tphys", "-s", "format=account,user,maxjobs,qos", "-P"),
           "Account|User|MaxJobs|QOS\ntphys||3|normal\ntphys|tua|1|fast,normal\ntphys|tub|3|normal\n")
    expect(sacctmgr(cluster, "-i", "modify", "user", "tua", "set", "MaxJobs=-1", "MaxWall=1-02:03:04", "GrpTRES=cpu=3"),
           " Modified user associations...\n  C = local      A = tphys                U = tua      \n")
    expect(sacctmgr(cluster, "show", "assoc", "where", "user=tua", "format=user,maxjobs,maxwall,grptres", "-P"),
           "User|MaxJobs|MaxWall|GrpTRES\ntua|3|1-02:04:00|cpu=3\n")
    expect(sacctmgr(cluster, "-i", "modify", "user", "tua", "set", "MaxWall=-1", "GrpTRES=cpu=-1"),
           " Modified user associations...\n  C = local      A = tphys                U = tua      \n")
    expect(sacctmgr(cluster, "show", "assoc", "where", "user=tua", "format=user,maxwall,grptres", "-P", "-n"),
           "tua|01:00:00|\n")
    expect(sacctmgr(cluster, "-i", "modify", "user", "nosuch", "set", "MaxJobs=1"), " Nothing modified\n", code=1)
    expect(sacctmgr(cluster, "-i", "modify", "account", "tphys", "set", "Bogus=1"),
           stderr=" Unknown option: Bogus=1\n Use keyword 'where' to modify condition\n", code=1)
    expect(sacctmgr(cluster, "-i", "modify", "account", "tphys", "set", "GrpTRESMins=cpu=5"),
           stderr="sacctmgr: error: GrpTRESMins is not supported by JEM\n", code=1)
    expect(sacctmgr(cluster, "show", "assoc", "where", "account=nosuch", "-P"),
           "Cluster|Account|User|Partition|Share|Priority|GrpJobs|GrpTRES|GrpSubmit|GrpWall|GrpTRESMins|MaxJobs|MaxTRES"
           "|MaxTRESPerNode|MaxSubmit|MaxWall|MaxTRESMins|QOS|Def QOS|GrpTRESRunMins\n")
    assert sacctmgr(cluster, "-i", "delete", "account", "tphys").returncode == 0
    assert sacctmgr(cluster, "-i", "delete", "qos", "fast").returncode == 0


def test_delete_users_accounts_and_refusals(cluster):
    for account in ("dphys", "dchem"):
        assert sacctmgr(cluster, "-i", "add", "account", account).returncode == 0
    assert sacctmgr(cluster, "-i", "add", "account", "dsub", "parent=dphys").returncode == 0
    assert sacctmgr(cluster, "-i", "add", "user", "dua", "account=dphys,dchem").returncode == 0
    assert sacctmgr(cluster, "-i", "add", "user", "dub", "account=dchem").returncode == 0
    expect(sacctmgr(cluster, "-i", "delete", "user", "dua", "account=dphys"),
           " Deleting user associations...\n  C = local      A = dphys      U = dua      \n")
    expect(sacctmgr(cluster, "-i", "delete", "user", "dua", "account=dphys"), " Nothing deleted\n", code=1)
    expect(sacctmgr(cluster, "-i", "delete", "user", "dub", "account=dchem"), lines("""
        | Deleting user associations...
        |  C = local      A = dchem      U = dub      
        | Deleting users (No Associations)...
        |  dub
        """))
    expect(sacctmgr(cluster, "delete", "account", "dchem", stdin="n\n"),
           " Deleting accounts...\n  dchem\n" + PROMPT + " Changes Discarded\n")
    expect(sacctmgr(cluster, "-i", "delete", "account", "dphys"), " Deleting accounts...\n  dphys\n")
    expect(sacctmgr(cluster, "show", "account", "dphys,dsub", "-n"), "")   # its sub-account went with it
    for args in (("account", "nosuch"), ("user", "nosuch"), ("qos", "nosuch")):
        expect(sacctmgr(cluster, "-i", "delete", *args), " Nothing deleted\n", code=1)
    expect(sacctmgr(cluster, "-i", "delete", "account", "root"),
           stderr=" You are not allowed to remove the root account.\n Use remove cluster instead.\n", code=1)
    expect(sacctmgr(cluster, "-i", "delete", "user"),
           stderr=" No conditions given to remove, not executing.\n", code=1)
    # An account with a job still waiting in it stays. (Root needs an association with it: once
    # users have associations, limits and qos enforced imply associations, as in Slurm.)
    assert sacctmgr(cluster, "-i", "add", "user", "root", "account=dchem").returncode == 0
    submitted = slurm(cluster, "sbatch", "--parsable", "-H", "-A", "dchem", "--wrap", "sleep 300")
    assert submitted.returncode == 0, submitted.stderr
    expect(sacctmgr(cluster, "-i", "delete", "account", "dchem"), stderr=" Error with request: Account, user "
           "association or QOS in use: jobs are active under account dchem; cancel them first\n", code=1)
    assert slurm(cluster, "scancel", submitted.stdout.strip()).returncode == 0
    wait_for_state(cluster, submitted.stdout.strip(), {"CANCELLED"})
    expect(sacctmgr(cluster, "-i", "delete", "account", "dchem"), " Deleting accounts...\n  dchem\n")
    expect(sacctmgr(cluster, "show", "user", "dua", "-n"), "")   # left without an association


def test_a_maxjobs_limit_set_with_sacctmgr_pends_the_second_job(cluster):
    assert sacctmgr(cluster, "-i", "add", "account", "limited").returncode == 0
    assert sacctmgr(cluster, "-i", "add", "user", ME, "account=limited").returncode == 0
    expect(sacctmgr(cluster, "-i", "modify", "user", "where", f"name={ME}", "account=limited", "set", "MaxJobs=1"),
           f" Modified user associations...\n  C = local      A = limited              U = {ME:<9}\n")
    jobs = []
    try:
        for _ in range(2):
            submitted = slurm(cluster, "sbatch", "--parsable", "-A", "limited", "-t", "5", "--wrap", "sleep 300")
            assert submitted.returncode == 0, submitted.stderr
            jobs.append(submitted.stdout.strip())
        wait_for_state(cluster, jobs[0], {"RUNNING"})
        wait_for(lambda: slurm(cluster, "squeue", "-h", "-j", jobs[1], "-o", "%T %r").stdout.strip()
                 == "PENDING AssocMaxJobsLimit", what="the second job to wait for its association's MaxJobs")
    finally:
        for job in jobs:
            slurm(cluster, "scancel", job)
        for job in jobs:
            wait_for_state(cluster, job, {"CANCELLED"})
        assert sacctmgr(cluster, "-i", "delete", "account", "limited").returncode == 0


# ------------------------------------------------------------------ a second Unix user


def test_another_user_may_look_but_not_change(cluster, other_user):
    python = python_for_others()
    probe = python and as_user(cluster, other_user, "sacctmgr", "show", "qos", "normal", "-n", "format=name", python=python)
    if not probe or probe.returncode != 0:
        pytest.skip(f"no Python this checkout runs under that another user may run: {probe and probe.stderr}")
    assert sacctmgr(cluster, "-i", "add", "account", "ochem").returncode == 0
    assert sacctmgr(cluster, "-i", "add", "user", other_user.pw_name, "account=ochem").returncode == 0
    try:
        expect(as_user(cluster, other_user, "sacctmgr", "-i", "add", "account", "x", python=python), lines("""
            | Adding Account(s)
            |  x
            | Settings
            |  Description     = Account Name
            |  Organization    = Parent/Account Name
            | Associations
            |  A = x          C = local     
            """), " Problem adding accounts: Access/permission denied\n", 1)
        expect(as_user(cluster, other_user, "sacctmgr", "-i", "modify", "user", other_user.pw_name, "set", "MaxJobs=5",
                       python=python), " Nothing modified\n", "sacctmgr: accounting_storage/slurmdbd: "
               "acct_storage_p_modify_assocs: Request didn't affect anything or your user doesn't have privilege "
               "to perform this action\n", 1)
        expect(as_user(cluster, other_user, "sacctmgr", "-i", "delete", "account", "ochem", python=python),
               stderr="sacctmgr: error: Your user doesn't have privilege to perform this action\n"
                      " Error with request: Access/permission denied\n", code=1)
        expect(as_user(cluster, other_user, "sacctmgr", "show", "assoc", "where", "account=ochem", "format=account,user,maxjobs",
                       "-P", python=python), f"Account|User|MaxJobs\nochem||\nochem|{other_user.pw_name}|\n")
    finally:
        assert sacctmgr(cluster, "-i", "delete", "account", "ochem").returncode == 0
