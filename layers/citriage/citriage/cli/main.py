"""The `citriage` command line: global options, subcommands, exit codes and one-line errors.

Exit codes (docs/cli.md): 0 ok; 1 the verdict is one `--fail-on` names; 2 usage or input error;
3 the logs could not be read. A failure is one line on stderr; `--debug` shows its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import NoReturn

from pydantic import ValidationError

from citriage.cli import (
    analyze,
    client,
    cluster,
    known_issues,
    local,
    submit,
    subscriptions,
    templates,
    tokens,
)
from citriage.cli.exits import Exit, printable
from citriage.errors import CitriageError, validation_summary


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors as one line that says where to look."""

    def error(self, message: str) -> NoReturn:
        """Print `citriage ...: message (see ... --help)` and exit with the usage code."""
        self.exit(int(Exit.INPUT), f"{self.prog}: {message} (see {self.prog} --help)\n")


def _version() -> str:
    try:
        return version("citriage")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(
        prog="citriage",
        description="CI failure triage: analyze runs, manage known issues, query a citriage API.",
    )
    parser.add_argument("--version", action="version", version=f"citriage {_version()}")
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("-q", "--quiet", action="store_true", help="no progress or notes on stderr")
    noise.add_argument("-v", "--verbose", action="store_true", help="log what is done on stderr")
    parser.add_argument("--debug", action="store_true", help="show a failure's traceback")
    client.add_global_options(parser)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    analyze.register(sub)
    local.register(sub)
    subscriptions.register(sub)
    templates.register(sub)
    known_issues.register(sub)
    tokens.register(sub)
    submit.register(sub)
    cluster.register(sub)
    client.register(sub)
    return parser


def _one_line(exc: BaseException) -> str:
    """A failure as the one line a user reads."""
    if isinstance(exc, ValidationError):
        return validation_summary(exc)
    from citriage.adapters.aws.clients import describe_aws_error  # noqa: PLC0415  # boto3 only if AWS was used

    described = describe_aws_error(exc) if type(exc).__module__.startswith("botocore") else None
    return described or str(exc) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `citriage` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR if args.quiet else logging.WARNING,
        format="citriage: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("citriage: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every failure is one line; --debug shows the traceback
        if args.debug:
            raise
        if not isinstance(exc, CitriageError | OSError | ValueError) and not type(exc).__module__.startswith(
            "botocore"
        ):
            print(
                f"citriage: unexpected {type(exc).__name__}: {printable(str(exc))} (--debug shows where)",
                file=sys.stderr,
            )
            return int(Exit.INPUT)
        print(f"citriage: {printable(_one_line(exc))}", file=sys.stderr)
        return int(Exit.INPUT)


if __name__ == "__main__":
    sys.exit(main())
