"""`jem ca`: the cluster CA and the controller's and nodes' TLS certificates.

    jem ca init [--dir DIR]                          ca.crt, ca.key (never overwritten)
    jem ca issue-controller [--host H ...] [--dir DIR]
    jem ca issue-node NAME [--host H ...] [--dir DIR]
    jem ca revoke controller|node NAME [--dir DIR]   adds it to ca.crl (copy that to every host)

DIR defaults to /etc/jem. Keys are written 0600. jem.security.ca (cryptography) is
imported when a command runs, not for the parser: `jem --help` and every other command
skip it.
"""

import argparse
import os

from jem.model.errors import CAError, InvalidName

DEFAULT_DIR = "/etc/jem"
CA_DAYS = 3650    # jem.security.ca.CA_DAYS and LEAF_DAYS, named here for the parser's defaults
LEAF_DAYS = 825   # (tests/unit/test_cli_imports.py holds them equal)


def add_parsers(sub) -> None:
    p = sub.add_parser("ca", help="the cluster CA and TLS certificates")
    ca_sub = p.add_subparsers(dest="ca_command", metavar="SUBCOMMAND")
    ca_sub.required = True

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--dir", default=DEFAULT_DIR, help=f"the security directory (default {DEFAULT_DIR})")

    q = ca_sub.add_parser("init", help="create the cluster CA (ca.crt, ca.key)")
    common(q)
    q.add_argument("--name", default="JEM cluster CA", help="the CA's common name")
    q.add_argument("--days", type=int, default=CA_DAYS, help=f"validity in days (default {CA_DAYS})")
    q.set_defaults(run=run_init)

    def leaf(q: argparse.ArgumentParser) -> None:
        common(q)
        q.add_argument("--host", action="append", default=[], metavar="H",
                       help="a DNS name or IP address the daemon is reached at (repeatable)")
        q.add_argument("--days", type=int, default=LEAF_DAYS, help=f"validity in days (default {LEAF_DAYS})")
        q.add_argument("--replace", action="store_true", help="replace an existing certificate and key")

    q = ca_sub.add_parser("issue-controller", help="issue the controller's certificate")
    leaf(q)
    q.set_defaults(run=run_issue_controller)

    q = ca_sub.add_parser("issue-node", help="issue a node's certificate (for its agent)")
    q.add_argument("name", metavar="NAME", help="the node name")
    leaf(q)
    q.set_defaults(run=run_issue_node)

    q = ca_sub.add_parser("revoke", help="revoke a certificate: add it to the CA's revocation list (ca.crl)")
    q.add_argument("kind", choices=["controller", "node"], help="whose certificate")
    q.add_argument("name", metavar="NAME", nargs="?", default="", help="the node name (for a node)")
    common(q)
    q.set_defaults(run=run_revoke)


def _wrap_os_errors(fn):
    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            raise CAError(f"{exc.strerror or exc}{where}") from None
    return run


def _report(paths) -> None:
    """paths: jem.security.ca.IssuedPaths."""
    print(f"wrote {paths.cert}")
    print(f"wrote {paths.key} (mode {os.stat(paths.key).st_mode & 0o777:04o})")


@_wrap_os_errors
def run_init(args: argparse.Namespace) -> int:
    from jem.security import ca

    _report(ca.init_ca(args.dir, name=args.name, days=args.days))
    return 0


@_wrap_os_errors
def run_issue_controller(args: argparse.Namespace) -> int:
    from jem.security import ca

    _report(ca.issue_controller_cert(args.dir, hosts=args.host, days=args.days, replace=args.replace))
    return 0


@_wrap_os_errors
def run_issue_node(args: argparse.Namespace) -> int:
    from jem.security import ca

    _report(ca.issue_node_cert(args.dir, args.name, hosts=args.host, days=args.days, replace=args.replace))
    return 0


@_wrap_os_errors
def run_revoke(args: argparse.Namespace) -> int:
    from jem.security import ca, revocation

    if (args.kind == "node") != bool(args.name):
        raise InvalidName("jem ca revoke: give a node's NAME, and only for a node")
    cert_name = f"{ca.NODES_DIR}/{args.name}" if args.kind == "node" else ca.CONTROLLER
    serial = revocation.revoke(args.dir, cert_name)
    print(f"revoked {cert_name} (serial {serial:x}) in {os.path.join(args.dir, revocation.CA_CRL)}: copy it to "
          f"the controller's and every node's security directory")
    return 0
