"""The models every function and the CLI share: one pydantic model per concept, defined once.

`run` (RunEvent, test results), `report` (the run report, docs/report.md, and the RunAnalyzed
event, docs/events.md), `known_issue` (signatures and infrastructure rules), `mail`
(subscriptions and messages). Import them from here.
"""

from citriage.models.incident import HeldRun, HoldState, Incident
from citriage.models.known_issue import (
    InfraRule,
    IssueCategory,
    KnownIssue,
    SignatureStats,
)
from citriage.models.mail import (
    CLASSIFICATION_VERDICTS,
    FIXED,
    MAIL_VERDICTS,
    DeliveryMode,
    MailMessage,
    MailVerdict,
    Subscription,
)
from citriage.models.report import (
    Classification,
    Evidence,
    Failure,
    FailureGroup,
    InfraFinding,
    KnownIssueRef,
    LogHit,
    RunAnalyzed,
    RunAnalyzedEnvelope,
    RunReport,
    Verdict,
)
from citriage.models.run import (
    RunEvent,
    SourceName,
    SweepCursor,
    TestCounts,
    TestResult,
    TestStatus,
    glob_match,
    parse_time,
)

__all__ = [
    "CLASSIFICATION_VERDICTS",
    "FIXED",
    "MAIL_VERDICTS",
    "Classification",
    "DeliveryMode",
    "Evidence",
    "Failure",
    "FailureGroup",
    "HeldRun",
    "HoldState",
    "Incident",
    "InfraFinding",
    "InfraRule",
    "IssueCategory",
    "KnownIssue",
    "KnownIssueRef",
    "LogHit",
    "MailMessage",
    "MailVerdict",
    "RunAnalyzed",
    "RunAnalyzedEnvelope",
    "RunEvent",
    "RunReport",
    "SignatureStats",
    "SourceName",
    "Subscription",
    "SweepCursor",
    "TestCounts",
    "TestResult",
    "TestStatus",
    "Verdict",
    "glob_match",
    "parse_time",
]
