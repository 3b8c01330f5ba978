"""`citriage tokens create|list|revoke`: the query API's bearer tokens (docs/api.md).

The table is `--table`, or $TOKENS_TABLE (the stack's ApiTokensTableName output); boto3 finds the
account (or the embedded endpoint, through AWS_ENDPOINT_URL) the usual way. A token is printed
once, when it is created: only its SHA-256 is kept.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from citriage.adapters.aws.clients import AwsClients
from citriage.adapters.aws.tokens import TokenStore
from citriage.config import AuthorizerSettings
from citriage.errors import CitriageError, InputError
from citriage.models.query import TokenScope
from citriage.wiring import token_store


def _store(args: argparse.Namespace) -> TokenStore:
    table = args.table or AuthorizerSettings.from_env().tokens_table
    if not table:
        raise CitriageError("name the tokens table with --table or TOKENS_TABLE")
    return token_store(table, AwsClients(interactive=True))


def _create(args: argparse.Namespace) -> int:
    if not args.name.strip() or len(args.name) > 100:
        raise InputError("--name: 1 to 100 characters, saying who or what uses the token")
    token, stored = _store(args).create(args.name.strip(), TokenScope(args.scope))
    print(json.dumps({"token": token, **stored.model_dump(mode="json")}, indent=2))
    return 0


def _list(args: argparse.Namespace) -> int:
    tokens = _store(args).list()
    if args.format == "json":
        print(json.dumps([t.model_dump(mode="json") for t in tokens], indent=2))
        return 0
    for t in tokens:
        print(f"{t.token_id}  {t.scope.value:5}  {t.created_at:%Y-%m-%d %H:%M}  {t.name}")
    return 0


def _revoke(args: argparse.Namespace) -> int:
    if not _store(args).revoke(args.id):
        raise InputError(f"no token {args.id!r} (see citriage tokens list)")
    print(f"revoked {args.id} (the API may accept it for up to 5 more minutes: its answers are cached)")
    return 0


def register(sub: Any) -> None:
    """Add `tokens` and its subcommands."""
    parser = sub.add_parser("tokens", help="manage the query API's bearer tokens")
    commands = parser.add_subparsers(dest="tokens_command", required=True)
    create = commands.add_parser("create", help="create a token (printed once; only its hash is kept)")
    create.add_argument("--name", required=True, help="who or what uses it, e.g. release-bot")
    create.add_argument("--scope", choices=[s.value for s in TokenScope], default="read")
    create.set_defaults(func=_create)
    listing = commands.add_parser("list", help="list tokens (ids, scopes, names; never a token)")
    listing.add_argument("--format", choices=["text", "json"], default="text")
    listing.set_defaults(func=_list)
    revoke = commands.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("--id", required=True, help="the token's id (citriage tokens list)")
    revoke.set_defaults(func=_revoke)
    for cmd in (create, listing, revoke):
        cmd.add_argument("--table", help="the tokens table (default: $TOKENS_TABLE)")
