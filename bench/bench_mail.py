"""Mail cost per run: one render per recipient (each gets its own mail) against the skeleton's
one shared render, and judging the history of every failing test over 100 stored runs.

Prints figures and ratios against a baseline measured in the same run.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.unit.mail_fakes

from citriage.models import Classification
from citriage.notify.history import RunRecord
from citriage.notify.render import MailRenderer
from citriage.notify.service import history_context

from tests.unit.mail_fakes import failure, make_report

RECIPIENTS = 20
FAILURES = 30
RUNS = 100


def best_of(fn: Callable[[], object], rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    tests = [f"tempest.api.suite{n}.Test.test_{n}[id-{n}]" for n in range(FAILURES)]
    kinds = [Classification.NEW, Classification.KNOWN, Classification.INFRA]
    report = make_report([failure(t, kinds[n % 3]) for n, t in enumerate(tests)], build="now", total=1500)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    records = [RunRecord.from_report(report)] + [
        RunRecord.from_report(
            make_report(
                [failure(t) for t in tests[: n % 7]], build=f"r{n}", at=at - timedelta(hours=n), total=1500
            )
        )
        for n in range(1, RUNS)
    ]
    renderer = MailRenderer()

    shared = best_of(lambda: renderer.render(report, "c@example.org", ["x@example.org"]))
    context = history_context(report, records, 20)

    def per_recipient() -> None:
        for n in range(RECIPIENTS):
            own = context.model_copy(
                update={"yours": tests[n % FAILURES : n % FAILURES + 1], "reason": f"r{n}"}
            )
            renderer.render(report, "c@example.org", [f"u{n}@example.org"], own)

    personal = best_of(per_recipient)
    judging = best_of(lambda: history_context(report, records, 20))
    print(f"baseline: one shared render of a {FAILURES}-failure mail: {shared * 1000:.2f} ms")
    print(
        f"per-recipient renders for {RECIPIENTS} recipients: {personal * 1000:.2f} ms "
        f"({personal / shared:.1f}x the shared render; {personal / RECIPIENTS * 1000:.2f} ms per mail)"
    )
    print(
        f"history of {FAILURES} failing tests over {RUNS} runs: {judging * 1000:.2f} ms "
        f"({judging / shared:.2f}x one render)"
    )


if __name__ == "__main__":
    main()
