"""In-memory fakes and report builders for the mail tests (no AWS, no network)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from citriage.models import (
    Classification,
    Evidence,
    Failure,
    InfraFinding,
    KnownIssueRef,
    MailMessage,
    RunEvent,
    RunReport,
    TestCounts,
    Verdict,
)
from citriage.notify.history import RunRecord

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
VOLUME_TEST = "tempest.api.volume.test_volumes_actions.VolumesActionsTest.test_attach_detach_volume[id-1]"
PORT_TEST = "tempest.api.network.test_ports.PortsTestJSON.test_create_port[id-2]"
DNS_TEST = "tempest.api.compute.servers.test_server_actions.ServerActionsTestJSON.test_rebuild[id-3]"
# A minimal mail, for the tests of the transports.
MESSAGE = MailMessage(
    subject="s",
    html="<p>h</p>",
    text="t",
    sender="c@example.org",
    recipients=["x@example.org"],
    run_id="zuul:1",
)
LP = KnownIssueRef(
    id="LP-1929710", bug_url="https://bugs.launchpad.net/cinder/+bug/1929710", title="Volume attach times out"
)


def failure(test_id: str, classification: Classification = Classification.NEW) -> Failure:
    """A failure with the evidence its classification implies."""
    if classification is Classification.KNOWN:
        evidence = Evidence(kind="signature", matched_by=LP.id, file="traceback", line=3, excerpt="in-use")
        return Failure(
            test_id=test_id,
            classification=classification,
            known_issue=LP,
            evidence=[evidence],
            details="Traceback\nfailed to reach in-use status",
        )
    if classification is Classification.INFRA:
        evidence = Evidence(
            kind="infra_rule",
            matched_by="dns-temporary-failure",
            file="job-output.txt",
            line=9,
            excerpt="dns",
        )
        return Failure(
            test_id=test_id,
            classification=classification,
            evidence=[evidence],
            details="Temporary failure in name resolution",
        )
    return Failure(
        test_id=test_id,
        classification=classification,
        evidence=[Evidence(kind="unexplained", file="traceback", excerpt="AssertionError: 2 != 3")],
        details="AssertionError: 2 != 3",
    )


def make_report(
    failures: list[Failure],
    verdict: Verdict | None = None,
    build: str = "b1",
    job: str = "tempest-full",
    at: datetime = T0,
    total: int = 50,
) -> RunReport:
    """A run report with the verdict analysis would give those failures (unless one is given)."""
    classes = {f.classification for f in failures}
    if verdict is None:
        if Classification.NEW in classes:
            verdict = Verdict.FAILED_NEW
        elif classes == {Classification.INFRA}:
            verdict = Verdict.INFRA
        elif failures:
            verdict = Verdict.FAILED_KNOWN
        else:
            verdict = Verdict.PASSED
    return RunReport(
        run=RunEvent(
            source="zuul",
            job=job,
            build_id=build,
            result="SUCCESS" if verdict is Verdict.PASSED else "FAILURE",
            log_url=f"https://logs.example.org/{build}/",
            project="openstack/nova",
            pipeline="check",
            branch="master",
            change="912345",
            patchset="3",
            change_url="https://review.opendev.org/c/openstack/nova/+/912345",
            start_time=at - timedelta(minutes=50),
            end_time=at,
        ),
        verdict=verdict,
        tests=TestCounts(total=total, passed=total - len(failures), failed=len(failures)),
        failures=failures,
        infra=[
            InfraFinding(
                rule="dns-temporary-failure",
                category="network",
                file="job-output.txt",
                line=9,
                excerpt="Temporary failure in name resolution",
            )
        ]
        if Classification.INFRA in classes
        else [],
        results_file="testrepository.subunit" if total else None,
    )


class FakeHistory:
    """Run records in memory, as HistoryStore keeps them."""

    def __init__(self) -> None:
        self.records: dict[str, RunRecord] = {}

    def record(self, report: RunReport) -> RunRecord:
        record = RunRecord.from_report(report)
        self.records[record.run_id] = record
        return record

    def recent(self, source: str, job: str, up_to: RunRecord | None, limit: int) -> list[RunRecord]:
        mine = [r for r in self.records.values() if r.source == source and r.job == job]
        if up_to is not None:
            mine = [r for r in mine if r.sort_key <= up_to.sort_key]
        return sorted(mine, key=lambda r: r.sort_key, reverse=True)[:limit]

    def between(self, start: datetime, end: datetime) -> list[RunRecord]:
        return [r for r in self.records.values() if start <= r.when < end]


class FakeSuppressions:
    def __init__(self, emails: set[str]) -> None:
        self.emails = emails

    def is_suppressed(self, email: str) -> bool:
        return email.lower() in self.emails
