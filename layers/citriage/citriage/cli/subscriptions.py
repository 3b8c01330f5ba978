"""`citriage subscriptions add|remove|list|import|export`: manage the subscriptions table.

The table is `--table`, or $SUBSCRIPTIONS_TABLE; boto3 finds the account (or the embedded
endpoint, through AWS_ENDPOINT_URL) the usual way.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from citriage.adapters.aws.clients import AwsClients
from citriage.adapters.aws.dynamodb import SubscriptionStore
from citriage.config import SubscriptionsCliSettings
from citriage.errors import CitriageError
from citriage.models import MAIL_VERDICTS, DeliveryMode, Subscription
from citriage.notify.audience import dump_subscriptions_yaml, load_subscriptions_yaml
from citriage.wiring import subscription_store


def _store(args: argparse.Namespace) -> SubscriptionStore:
    table = args.table or SubscriptionsCliSettings.from_env().subscriptions_table
    if not table:
        raise CitriageError("name the subscriptions table with --table or SUBSCRIPTIONS_TABLE")
    return subscription_store(table, AwsClients(interactive=True))


def _add(args: argparse.Namespace) -> int:
    store = _store(args)
    current = store.get(args.email)
    data: dict[str, Any] = current.model_dump() if current else {"email": args.email}
    data["jobs"] = sorted({*data.get("jobs", []), *(args.job or [])})
    data["tests"] = sorted({*data.get("tests", []), *(args.test or [])})
    if args.verdict:
        data["verdicts"] = args.verdict
    if args.delivery:
        data["delivery"] = args.delivery
    if args.risk:
        data["risk"] = args.risk
    if not data["jobs"] and not data["tests"]:
        raise CitriageError("a subscription needs at least one --job or --test glob")
    try:
        subscription = Subscription.model_validate(data)
    except ValidationError as exc:
        raise CitriageError(str(exc)) from exc
    store.put(subscription)
    print(dump_subscriptions_yaml([subscription]), end="")
    return 0


def _remove(args: argparse.Namespace) -> int:
    store = _store(args)
    if store.get(args.email) is None:
        raise CitriageError(f"{args.email} has no subscription")
    store.delete(args.email)
    print(f"removed {args.email}")
    return 0


def _list(args: argparse.Namespace) -> int:
    subscriptions = sorted(_store(args).list(), key=lambda s: s.email)
    for s in subscriptions:
        scope = ", ".join([f"job:{g}" for g in s.jobs] + [f"test:{g}" for g in s.tests])
        verdicts = ",".join(str(v) for v in s.verdicts)
        print(f"{s.email}\t{s.delivery}\t{verdicts}\t{scope}")
    print(f"{len(subscriptions)} subscription(s)", file=sys.stderr)
    return 0


def _import(args: argparse.Namespace) -> int:
    incoming = load_subscriptions_yaml(Path(args.file).read_text("utf-8"))
    store = _store(args)
    existing = {s.email for s in store.list()}
    for subscription in incoming:
        store.put(subscription)
    removed = sorted(existing - {s.email for s in incoming}) if args.replace else []
    for email in removed:
        store.delete(email)
    added = len({s.email for s in incoming} - existing)
    print(
        f"imported {len(incoming)} subscription(s): {added} new, "
        f"{len(incoming) - added} replaced, {len(removed)} removed"
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    text = dump_subscriptions_yaml(_store(args).list())
    if args.file:
        Path(args.file).write_text(text, "utf-8")
    else:
        print(text, end="")
    return 0


def register(sub: Any) -> None:
    """Add `subscriptions` and its commands to the CLI's subparsers."""
    parser = sub.add_parser("subscriptions", help="manage who gets mail about which jobs and tests")
    parser.add_argument("--table", help="subscriptions table (default: $SUBSCRIPTIONS_TABLE)")
    commands = parser.add_subparsers(dest="subscriptions_command", required=True)

    add = commands.add_parser("add", help="subscribe an address (adds globs to an existing subscription)")
    add.add_argument("email")
    add.add_argument("--job", action="append", metavar="GLOB", help="job glob (repeatable)")
    add.add_argument("--test", action="append", metavar="GLOB", help="test id glob (repeatable)")
    add.add_argument(
        "--verdict",
        action="append",
        choices=MAIL_VERDICTS,
        help="verdict to hear about (repeatable; default failed_new and failed_known)",
    )
    add.add_argument("--delivery", choices=[d.value for d in DeliveryMode], help="default: immediate")
    add.add_argument(
        "--risk",
        choices=["any", "high"],
        help="high: runs whose new failures are all low risk go to the daily digest",
    )
    add.set_defaults(func=_add)

    remove = commands.add_parser("remove", help="unsubscribe an address")
    remove.add_argument("email")
    remove.set_defaults(func=_remove)

    listing = commands.add_parser("list", help="one line per address: delivery, verdicts, globs")
    listing.set_defaults(func=_list)

    load = commands.add_parser("import", help="load a YAML file: address -> jobs and/or tests")
    load.add_argument("file")
    load.add_argument("--replace", action="store_true", help="also remove addresses the file does not list")
    load.set_defaults(func=_import)

    export = commands.add_parser("export", help="write every subscription in the import shape")
    export.add_argument("file", nargs="?", help="default: standard output")
    export.set_defaults(func=_export)
