"""`prizm auth new-key` and `prizm auth hash-key`: the keys a router with auth on accepts."""

from __future__ import annotations

import argparse
import sys

from prizm_core.security.bearer import API_KEY_ENV, REGISTRATION_TOKEN_ENV
from prizm_core.security.callers import hash_key, new_key

__all__ = ["add_auth_command"]


def _new_key(args: argparse.Namespace) -> int:
    key = new_key()
    digest = hash_key(key)
    if args.registration:
        where, entry, env = (
            "auth.registration_tokens",
            f"{{name: {args.name}, sha256: {digest}}}",
            REGISTRATION_TOKEN_ENV,
        )
    else:
        where, entry, env = "auth.api_keys", f"{{caller: {args.name}, sha256: {digest}}}", API_KEY_ENV
    # The key goes to stdout alone, so that `KEY=$(prizm auth new-key alice)` captures just it.
    print(key)
    print(
        f"# shown once: give it to {args.name} as {env}; the router keeps only its hash.\n"
        f"# Add to the router config under {where}:\n  - {entry}",
        file=sys.stderr,
    )
    return 0


def _hash_key(args: argparse.Namespace) -> int:
    # From stdin, never an argument: arguments show in `ps` and shell history.
    key = sys.stdin.readline().strip()
    if not key:
        print("error: pipe the key in on stdin: prizm auth hash-key < key.txt", file=sys.stderr)
        return 2
    print(hash_key(key))
    return 0


def add_auth_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `prizm auth new-key NAME` and `prizm auth hash-key`."""
    auth = commands.add_parser("auth", help="make API keys and registration tokens for a router with auth")
    actions = auth.add_subparsers(dest="auth_command", required=True, metavar="ACTION")
    new = actions.add_parser(
        "new-key",
        help="print a fresh key once (stdout) and the config entry with its hash (stderr)",
    )
    new.add_argument("name", help="the caller (an entry of auth.callers) or the registration token's name")
    new.add_argument(
        "--registration", action="store_true", help="a registration token for providers, not a caller's key"
    )
    new.set_defaults(handler=_new_key)
    hashed = actions.add_parser("hash-key", help="print the SHA-256 of a key read from stdin")
    hashed.set_defaults(handler=_hash_key)
