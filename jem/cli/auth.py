"""`jem authd` (this host's credential service) and `jem token` (a JWT for scripts and portals).

`jem authd` runs as root on every host where users run commands (login
nodes); the controller serves one for its own host. Its private key is
`<security-dir>/authd.key` (made on first start, 0600) and its public half
`<security-dir>/authd-keys/<kid>.pub`, which the controller and agents must
hold. `jem token` asks the controller for a JWT, as `scontrol token` does:
root for anyone, anyone else only for themselves.
"""

import argparse
import os
import signal
import threading
import time

from jem.cli.connection import connect
from jem.model import defaults
from jem.model.clientconfig import DEFAULT_AUTHD_SOCKET


def add_parsers(sub) -> None:
    p = sub.add_parser("authd", help="run this host's credential service (as root)")
    p.add_argument("--socket", default=DEFAULT_AUTHD_SOCKET, help=f"Unix socket to serve (default {DEFAULT_AUTHD_SOCKET})")
    p.add_argument("--security-dir", default=defaults.SECURITY_DIR,
                   help="holds authd.key and authd-keys/ (default /etc/jem)")
    p.add_argument("--token-lifetime", type=float, default=defaults.TOKEN_LIFETIME_S, metavar="S",
                   help="seconds a token is valid (default 60)")
    p.add_argument("--job-signature-lifetime", type=float, default=defaults.JOB_SIGNATURE_LIFETIME_S, metavar="S",
                   help="seconds a user's signature over a job stays valid: how long a job may pend and still "
                        f"start (default {int(defaults.JOB_SIGNATURE_LIFETIME_S)})")
    p.add_argument("--cron-signature-lifetime", type=float, default=defaults.CRON_SIGNATURE_LIFETIME_S, metavar="S",
                   help="seconds a user's signature over a scrontab entry's job stays valid: how long the entry "
                        f"runs after it was installed (default {int(defaults.CRON_SIGNATURE_LIFETIME_S)})")
    p.set_defaults(run=run_authd)
    p = sub.add_parser("token", help="get a JWT for scripts and portals (scontrol token)")
    p.add_argument("--user", default="", help="whose token (root only; default: yours)")
    p.add_argument("--lifespan", type=int, default=0, metavar="S",
                   help=f"seconds it lives (default {defaults.API_TOKEN_LIFETIME_S})")
    p.set_defaults(run=run_token)


def run_authd(args: argparse.Namespace) -> int:
    from jem.security.authd import AuthdPolicy, CredentialService
    from jem.security.keys import load_or_generate_signing_key, make_security_dir

    os.umask(0o077)
    make_security_dir(args.security_dir)
    key = load_or_generate_signing_key(os.path.join(args.security_dir, "authd.key"),
                                       public_dir=os.path.join(args.security_dir, "authd-keys"))
    service = CredentialService(key, args.socket, policy=AuthdPolicy(
        token_lifetime_s=args.token_lifetime, job_signature_lifetime_s=args.job_signature_lifetime,
        cron_signature_lifetime_s=args.cron_signature_lifetime)).start()
    print(f"jem authd: serving {args.socket} (key {key.kid})", flush=True)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    stopping.wait()
    service.stop()
    return 0


def run_token(args: argparse.Namespace) -> int:
    with connect() as client:
        token, expires = client.issue_token(user=args.user, lifespan_s=args.lifespan)
    # scontrol token's output shape, so scripts that parse it keep working.
    print(f"JEM_JWT={token}")
    print(f"# expires {time.strftime('%Y-%m-%dT%H:%M:%S', time.localtime(expires))}", flush=True)
    return 0
