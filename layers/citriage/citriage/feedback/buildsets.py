"""The buildset tracker: every analysed run of a buildset is recorded, and when the last one is in
(or the buildset's deadline passes first) one `BuildsetAnalyzed` event goes on the bus
(docs/feedback.md).

A run belongs to a buildset when its source said how many runs the buildset has: a Zuul
reporter message (its finished builds), a Gerrit comment (its failed jobs), a GitHub workflow
run or a GitLab pipeline (one run each); or when its CI's API does (an openQA build's jobs,
citriage.feedback.sizes). Whoever finds the buildset complete, or the round that
finds it overdue, claims its event with a conditional write: one event a buildset, under
concurrent analyses and redeliveries. A crash between the claim and the bus leaves the buildset
where the round finds it and publishes the kept event again (consumers dedupe on the id).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from citriage.analyze.classify import ci_says_passed
from citriage.errors import CitriageError
from citriage.feedback.sizes import BuildsetSizes
from citriage.models import RunAnalyzed
from citriage.models.buildset import Buildset, BuildsetAnalyzed, BuildsetKey, BuildsetMember
from citriage.ports import Buildsets, Publisher, ReportReader


class ReportNotStored(CitriageError):
    """A RunAnalyzed event came before its report could be read: retried."""


def buildset_key(source: str, buildset_id: str) -> str:
    """A buildset's identity across sources: `<source>:<the CI's buildset id>`."""
    return f"{source}:{buildset_id}"


class BuildsetTracker:
    """Records analysed runs into their buildsets and publishes each buildset's verdict once."""

    def __init__(
        self,
        buildsets: Buildsets,
        reports: ReportReader,
        publisher: Publisher,
        deadline: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sizes: BuildsetSizes | None = None,
    ) -> None:
        self._sizes = sizes or BuildsetSizes(None)
        self._buildsets = buildsets
        self._reports = reports
        self._publisher = publisher
        self._deadline = deadline
        self._clock = clock

    def on_run(self, analyzed: RunAnalyzed) -> BuildsetAnalyzed | None:
        """Record one analysed run; the buildset's event when this run completed it."""
        if not analyzed.buildset_id:
            return None
        report = self._reports.get_report(analyzed.run_id)
        if report is None:
            raise ReportNotStored(f"{analyzed.run_id}: no stored report yet")
        run = report.run
        size = self._sizes.size_of(run) if run.buildset_id else None
        if not run.buildset_id or not size:
            return None
        key = BuildsetKey(
            id=buildset_key(run.source, run.buildset_id),
            source=run.source,
            expected=size,
            project=run.project,
            pipeline=run.pipeline,
            change=run.change,
            patchset=run.patchset,
            change_url=run.change_url,
            revision=run.revision,
        )
        now = self._clock()
        buildset = self._buildsets.record(
            key,
            BuildsetMember.from_report(report, ci_passed=ci_says_passed(run) is True),
            now,
            now + self._deadline,
        )
        if buildset.published is not None or not buildset.complete:
            return None
        return self._publish(buildset, incomplete=False)

    def round(self) -> list[BuildsetAnalyzed]:
        """The deadline round: each overdue buildset gets its event, `incomplete` when runs are
        missing (or the event a crashed worker kept is published again)."""
        done = []
        for buildset in self._buildsets.overdue(self._clock()):
            if buildset.published is not None:
                self._publisher.buildset_analyzed(buildset.published)
                self._buildsets.settle(buildset)
                done.append(buildset.published)
                continue
            event = self._publish(buildset, incomplete=not buildset.complete)
            if event is not None:
                done.append(event)
        return done

    def _publish(self, buildset: Buildset, incomplete: bool) -> BuildsetAnalyzed | None:
        event = BuildsetAnalyzed.of(buildset, self._clock(), incomplete=incomplete)
        if not self._buildsets.claim(event):
            return None
        try:
            self._publisher.buildset_analyzed(event)
        except Exception:
            self._buildsets.unclaim(buildset.id)
            raise
        self._buildsets.settle(buildset)
        return event
