"""`prizm certs`: a local CA and the certificates of a laptop mesh, for `prizm up --tls`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["add_certs_command"]

EXIT_REFUSED = 1


def _folder(args: argparse.Namespace) -> Path:
    from prizm_core.security.certs import default_folder  # noqa: PLC0415 - see cli.main._COMMANDS

    return Path(args.dir) if args.dir else default_folder(os.environ)


def _mesh(args: argparse.Namespace) -> int:
    from prizm_core.security.certs import CertsError, make_mesh  # noqa: PLC0415

    folder = _folder(args)
    try:
        made = make_mesh(folder, force=args.force)
    except CertsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    for name, issued in made.items():
        print(f"{name:14} {issued.cert}  (key {issued.key.name})")
    print(f"run the mesh with: prizm up --tls --certs {folder}")
    print(f"call it with: prizm --router 127.0.0.1:50051 providers --ca {made['ca'].cert}")
    return 0


def _init(args: argparse.Namespace) -> int:
    from prizm_core.security.certs import CertsError, make_ca  # noqa: PLC0415

    try:
        issued = make_ca(_folder(args), name=args.name, force=args.force)
    except CertsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"ca {issued.cert}  (key {issued.key.name})")
    return 0


def _issue(args: argparse.Namespace) -> int:
    from prizm_core.security.certs import CertsError, issue  # noqa: PLC0415

    try:
        issued = issue(
            _folder(args),
            args.name,
            dns=args.dns or (() if args.client else ("localhost",)),
            ips=args.ip or (() if args.client else ("127.0.0.1", "::1")),
            client=args.client,
            force=args.force,
        )
    except CertsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"{args.name} {issued.cert}  (key {issued.key.name})")
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dir",
        metavar="DIR",
        default=argparse.SUPPRESS,
        help="folder of the files (default $PRIZM_HOME/certs)",
    )
    parser.add_argument("--force", action="store_true", default=argparse.SUPPRESS, help="replace files there")


def add_certs_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `certs` (CA and every mesh certificate), `certs init` and `certs issue NAME`."""
    certs = commands.add_parser(
        "certs",
        help="make a local CA and certificates for TLS (prizm up --tls)",
        description=(
            "With no subcommand: a CA (ca.pem) and the certificates router, router-client, provider "
            "and caller, for loopback (localhost, 127.0.0.1, ::1). EC P-256 keys, mode 0600; the CA "
            "is valid 10 years, certificates 825 days. Existing files are kept unless --force."
        ),
    )
    certs.add_argument("--dir", metavar="DIR", help="folder of the files (default $PRIZM_HOME/certs)")
    certs.add_argument("--force", action="store_true", help="replace files there")
    certs.set_defaults(handler=_mesh)
    steps = certs.add_subparsers(dest="step", metavar="STEP")
    init = steps.add_parser("init", help="make the CA only")
    init.add_argument("--name", default="Prizm local CA", help="the CA's common name")
    _common(init)
    init.set_defaults(handler=_init)
    issue = steps.add_parser("issue", help="issue one certificate signed by the CA")
    issue.add_argument("name", help="file name and common name (NAME.pem, NAME.key)")
    issue.add_argument("--dns", action="append", metavar="NAME", help="DNS name (repeat; default localhost)")
    issue.add_argument("--ip", action="append", metavar="IP", help="IP address (repeat; default loopback)")
    issue.add_argument("--client", action="store_true", help="a client certificate (for mTLS)")
    _common(issue)
    issue.set_defaults(handler=_issue)
