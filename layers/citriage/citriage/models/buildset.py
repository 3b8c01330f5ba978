"""Buildsets (docs/feedback.md): the runs one change, pipeline run or build was tested with, and
the one verdict a release bot or a review acts on once all of them are analysed."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from citriage.models.report import Classification, RunReport, Verdict

# What one buildset event lists at most of each kind (its counts count them all): an event's
# detail must stay under EventBridge's 256 KB.
MAX_LISTED = 50
MAX_TEXT = 500


class BuildsetFailure(BaseModel):
    """One failure of a buildset's run, as a bot or a review shows it."""

    job: str
    run_id: str
    test_id: str | None = Field(default=None, description="None when the run failed without a failing test")
    message: str | None = Field(default=None, description="The exception line, or why the run is listed")
    classification: Classification | None = Field(
        default=None, description="new, known or infra; None for a run that failed with no test read"
    )
    issue: str | None = Field(default=None, description="The known issue's id (known failures)")
    bug_url: str | None = None
    log_url: str


class BuildsetMember(BaseModel):
    """One analysed run of a buildset: what its verdict contributes."""

    run_id: str
    job: str
    verdict: Verdict
    voting: bool = True
    log_url: str
    web_url: str | None = None
    incident: str | None = None
    blocking: list[BuildsetFailure] = Field(default_factory=list)
    waived: list[BuildsetFailure] = Field(default_factory=list)
    analyzed_at: datetime

    @classmethod
    def from_report(cls, report: RunReport, ci_passed: bool = False) -> BuildsetMember:
        """What a run's report says about its buildset. A voting run blocks on each new failure,
        and, unless its CI passed it (`ci_passed`), when nothing could be read of it: a buildset
        is approvable only when every failure of a voting run is known or infrastructure."""
        run = report.run
        voting = run.voting is not False
        listed: dict[Classification, list[BuildsetFailure]] = {c: [] for c in Classification}
        for failure in report.failures:
            issue = failure.known_issue
            listed[failure.classification].append(
                BuildsetFailure(
                    job=run.job,
                    run_id=report.run_id,
                    test_id=failure.test_id[:MAX_TEXT],
                    message=(failure.message or "")[:MAX_TEXT] or None,
                    classification=failure.classification,
                    issue=issue.id if issue else None,
                    bug_url=issue.bug_url if issue else None,
                    log_url=run.log_url,
                )
            )
        for group in report.unlisted:
            if group.classification is Classification.NEW:
                listed[Classification.NEW].append(
                    BuildsetFailure(
                        job=run.job,
                        run_id=report.run_id,
                        test_id=", ".join(group.examples[:3]) or None,
                        message=f"{group.count} more failures like: {(group.message or '')[:MAX_TEXT]}",
                        classification=Classification.NEW,
                        log_url=run.log_url,
                    )
                )
        for finding in report.infra:
            if not any(f.classification is Classification.INFRA for f in report.failures):
                listed[Classification.INFRA].append(
                    BuildsetFailure(
                        job=run.job,
                        run_id=report.run_id,
                        message=f"{finding.category}: {finding.excerpt or finding.rule}"[:MAX_TEXT],
                        classification=Classification.INFRA,
                        issue=finding.rule,
                        log_url=run.log_url,
                    )
                )
                break
        blocking = listed[Classification.NEW]
        if report.verdict is Verdict.NO_RESULTS and not ci_passed:
            reason = report.verdict_reason or "no test results could be read"
            unexplained = BuildsetFailure(
                job=run.job, run_id=report.run_id, message=reason[:MAX_TEXT], log_url=run.log_url
            )
            blocking = [unexplained]
        return cls(
            run_id=report.run_id,
            job=run.job,
            verdict=report.verdict,
            voting=voting,
            log_url=run.log_url,
            web_url=run.web_url,
            incident=report.incident,
            blocking=blocking[:MAX_LISTED],
            waived=(listed[Classification.KNOWN] + listed[Classification.INFRA])[:MAX_LISTED],
            analyzed_at=report.analyzed_at,
        )


class BuildsetKey(BaseModel):
    """What identifies a buildset and the change it tested, taken from its first run."""

    id: str = Field(description="`<source>:<buildset id>`")
    source: str
    expected: int = Field(ge=1, description="How many runs of it citriage was sent")
    project: str | None = None
    pipeline: str | None = None
    change: str | None = None
    patchset: str | None = None
    change_url: str | None = None
    revision: str | None = None


class BuildsetAnalyzed(BuildsetKey):
    """The `BuildsetAnalyzed` event's detail: one per buildset, when every run of it has been
    analysed, or when its deadline passed first (`incomplete`)."""

    approvable: bool = Field(description="No new failure (and no unexplained failure) in a voting run")
    incomplete: bool = Field(default=False, description="Its deadline passed before all runs were analysed")
    analyzed: int = Field(description="How many of its runs were analysed")
    verdicts: dict[str, int] = Field(default_factory=dict, description="Its runs by verdict")
    runs: list[BuildsetMember] = Field(default_factory=list, description="Its analysed runs")
    blocking: list[BuildsetFailure] = Field(
        default_factory=list, description="Each new failure of a voting run: job, test, message, log"
    )
    waived: list[BuildsetFailure] = Field(
        default_factory=list, description="Known failures (with their issue) and infrastructure failures"
    )
    non_voting: list[BuildsetFailure] = Field(
        default_factory=list, description="New failures of non-voting runs: shown, never blocking"
    )
    published_at: datetime

    @classmethod
    def of(cls, buildset: Buildset, now: datetime, incomplete: bool = False) -> BuildsetAnalyzed:
        """The verdict of a buildset from its members (all of them, or those in by its deadline)."""
        members = sorted(buildset.members, key=lambda m: (m.job, m.run_id))
        blocking = [f for m in members if m.voting for f in m.blocking]
        verdicts: dict[str, int] = {}
        for member in members:
            verdicts[member.verdict.value] = verdicts.get(member.verdict.value, 0) + 1
        return cls(
            **BuildsetKey.model_validate(buildset.model_dump()).model_dump(),
            approvable=not blocking and not incomplete,
            incomplete=incomplete,
            analyzed=len(members),
            verdicts=verdicts,
            runs=[m.model_copy(update={"blocking": [], "waived": []}) for m in members][: MAX_LISTED * 2],
            blocking=blocking[:MAX_LISTED],
            waived=[f for m in members for f in m.waived][:MAX_LISTED],
            non_voting=[f for m in members if not m.voting for f in m.blocking][:MAX_LISTED],
            published_at=now,
        )


class Buildset(BuildsetKey):
    """A buildset as the buildsets table keeps it while its runs are analysed."""

    started_at: datetime = Field(description="When its first run was analysed")
    deadline: datetime = Field(description="Published as incomplete if not all analysed by then")
    members: list[BuildsetMember] = Field(default_factory=list)
    published: BuildsetAnalyzed | None = Field(default=None, description="Its event, once claimed")

    @property
    def complete(self) -> bool:
        """Whether every run it was sent has been analysed."""
        return len({m.run_id for m in self.members}) >= self.expected


class BuildsetAnalyzedEnvelope(BaseModel):
    """A BuildsetAnalyzed event as the bus delivers it to a queue."""

    source: Literal["citriage"]
    detail_type: Literal["BuildsetAnalyzed"] = Field(alias="detail-type")
    detail: BuildsetAnalyzed


class FeedbackPolicy(BaseModel):
    """How citriage answers the CI."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gerrit_url: str | None = Field(
        default=None, description="Post Gerrit reviews here instead of the change URL's Gerrit"
    )
    vote_label: str | None = Field(
        default=None, description="A label to vote on (e.g. Verified), for a third-party CI account"
    )
    check_name: str = "citriage"


class Answered(BaseModel):
    """What citriage told a CI about a buildset."""

    buildset: str
    ci: str = Field(description="gerrit, github or gitlab")
    action: str
    url: str
    status: int
    at: datetime
