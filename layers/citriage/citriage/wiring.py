"""The one composition root: every entry point builds its services here.

Each Lambda handler, every CLI command, `citriage demo`, `citriage serve` and the end-to-end tests
build their services through these functions, from their settings and one `AwsClients`. boto3
reads AWS_ENDPOINT_URL, so the same wiring serves AWS and the embedded local endpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from citriage.adapters.aws.clients import AwsClients
from citriage.adapters.aws.dynamodb import (
    CursorStore,
    DedupeStore,
    HistoryStore,
    RunStore,
    SubscriptionStore,
    SuppressionStore,
)
from citriage.adapters.aws.events import EventPublisher
from citriage.adapters.aws.holds import HeldRunStore
from citriage.adapters.aws.secrets import SecretKeys
from citriage.adapters.aws.sqs import RunQueue
from citriage.config import (
    AnalyzeSettings,
    FeedbackSettings,
    FetchSettings,
    GateSettings,
    IncidentSettings,
    IncidentUpkeepSettings,
    LayoutSettings,
    MailTransportName,
    NotifySettings,
    QuerySettings,
    SesEventsSettings,
    SweepSettings,
    UnsubscribeSettings,
    WebhookSettings,
)
from citriage.errors import CitriageError, read_input

# Each builder imports the modules of its own service when it runs, so a handler loads what it
# uses and no more (a cold start of the webhook function never imports analysis or Jinja2).
if TYPE_CHECKING:
    from citriage.adapters.aws.known_issues import KnownIssueStore
    from citriage.adapters.aws.tokens import TokenStore
    from citriage.analyze.matching.infra_rules import InfraRuleSet
    from citriage.analyze.service import Analyzer, AnalyzeService
    from citriage.feedback.buildsets import BuildsetTracker
    from citriage.feedback.gate import ReleaseGate
    from citriage.feedback.reviews import ReviewService
    from citriage.incidents.holds import HoldService
    from citriage.incidents.ledger import IncidentLedger
    from citriage.incidents.tracker import IncidentTracker
    from citriage.intake.sweep import Sweeper
    from citriage.intake.uploads import UploadService
    from citriage.intake.webhook import WebhookService
    from citriage.notify.digest import DigestService
    from citriage.notify.downtime_mail import DowntimeMailer
    from citriage.notify.render import MailRenderer
    from citriage.notify.service import NotifyService
    from citriage.notify.unsubscribe import UnsubscribeLinks, UnsubscribeService
    from citriage.ports import MailTransport
    from citriage.query.service import QueryService


def intake_services(
    settings: WebhookSettings, aws: AwsClients
) -> tuple[WebhookService, UploadService | None]:
    """The webhook intake over Secrets Manager, DynamoDB and SQS; and, when an uploads bucket is
    set, the upload intake (`citriage submit`) over S3 and the tokens and runs tables too."""
    from citriage.adapters.aws.tokens import TokenStore
    from citriage.adapters.aws.uploads import UploadStore
    from citriage.intake.sources import configured_sources
    from citriage.intake.uploads import UploadService
    from citriage.intake.webhook import WebhookService

    keys, queue = SecretKeys(settings.webhook_secret_arn), RunQueue(aws.sqs, settings.analyze_queue_url)
    dedupe = DedupeStore(aws.table(settings.dedupe_table), settings.dedupe_ttl_days)
    sources = configured_sources(settings.gerrit_ci_accounts)
    hooks = WebhookService(keys, dedupe, queue, settings.max_body_bytes, sources)
    if not settings.uploads_bucket:
        return hooks, None
    tokens = TokenStore(aws.table(settings.tokens_table)) if settings.tokens_table else None
    store, runs = UploadStore(aws.s3, settings.uploads_bucket), RunStore(aws.table(settings.runs_table or ""))
    return hooks, UploadService(keys, tokens, store, dedupe, queue, runs, settings.max_upload_bytes)


def analyze_service(
    settings: AnalyzeSettings,
    fetch: FetchSettings,
    layout: LayoutSettings,
    aws: AwsClients,
    incidents: IncidentSettings | None = None,
) -> AnalyzeService:
    """The analyzer over DynamoDB and EventBridge (and the incidents table, when named)."""
    from citriage.adapters.aws.known_issues import KnownIssueStore
    from citriage.adapters.aws.run_index import IndexedHistoryStore, RunQueries
    from citriage.adapters.aws.uploads import UploadStore
    from citriage.analyze.service import Analyzer, AnalyzeService
    from citriage.known_issues.versioned import ReadOncePerVersion

    known_issues = KnownIssueStore(aws.table(settings.known_issues_table))
    table = incidents.incidents_table if incidents else None
    analyzer = Analyzer(
        # A warm function reads the table whole only when the signatures changed.
        known_issues=ReadOncePerVersion(known_issues),
        rules=infra_rules(settings.infra_rules, aws),
        fetch=fetch,
        layout=layout,
        api_tokens=SecretKeys(settings.ci_tokens_secret_arn) if settings.ci_tokens_secret_arn else None,
        uploads=UploadStore(aws.s3, fetch.uploads_bucket) if fetch.uploads_bucket else None,
    )
    return AnalyzeService(
        analyzer=analyzer,
        reports=RunStore(aws.table(settings.runs_table), settings.run_retention_days),
        publisher=EventPublisher(aws.events, settings.event_bus_name),
        # With the read side's items of each run (jobs, tests, known issues' hits).
        history=IndexedHistoryStore(aws.table(settings.runs_table), settings.history_ttl_days),
        hit_stats=known_issues,
        dedupe=DedupeStore(aws.table(settings.dedupe_table)),
        incidents=incident_tracker(table, incidents, aws) if incidents and table else None,
        clusters=RunQueries(aws.table(settings.runs_table)),
    )


def incident_tracker(table: str, settings: IncidentSettings, aws: AwsClients) -> IncidentTracker:
    """The incidents over their table, with the thresholds the settings give."""
    from citriage.adapters.aws.incidents import IncidentStore
    from citriage.incidents.tracker import IncidentTracker
    from citriage.models.incident import IncidentPolicy

    thresholds = settings.incident_thresholds
    policy = IncidentPolicy.model_validate_json(thresholds) if thresholds else IncidentPolicy()
    return IncidentTracker(IncidentStore(aws.table(table), aws.dynamodb_client), policy)


def local_analyzer(
    fetch: FetchSettings, layout: LayoutSettings, known_issues_file: Path | None, rules: str | None = None
) -> Analyzer:
    """`citriage analyze`: the Lambda's analysis with signatures from a YAML file and no AWS at all
    (site rules from a file or directory only); log trees may be local directories."""
    from citriage.analyze.matching.infra_rules import (
        InfraRuleSet,
        load_builtin_rules,
        load_site_rules,
        merge_rules,
    )
    from citriage.analyze.service import Analyzer
    from citriage.known_issues.signatures import KnownIssueList
    from citriage.known_issues.yaml_file import load_known_issues_yaml

    issues = []
    if known_issues_file:
        issues = load_known_issues_yaml(read_input(known_issues_file), str(known_issues_file))
    site = load_site_rules(rules) if rules else []
    return Analyzer(
        known_issues=KnownIssueList(issues),
        rules=InfraRuleSet(merge_rules(load_builtin_rules(), site)),
        fetch=fetch,
        layout=layout,
        api_tokens=None,
        allow_local=True,
    )


def infra_rules(location: str | None, aws: AwsClients) -> InfraRuleSet:
    """The built-in infrastructure rules with a site's file, directory or S3 object applied by id."""
    from citriage.adapters.aws.s3 import read_s3_text
    from citriage.analyze.matching.infra_rules import (
        InfraRuleSet,
        load_builtin_rules,
        load_site_rules,
        merge_rules,
        parse_rules_yaml,
    )
    from citriage.models import InfraRule

    site: list[InfraRule] = []
    if location and location.startswith("s3://"):
        site = parse_rules_yaml(read_s3_text(aws.s3, location), location)
    elif location:
        site = load_site_rules(location)
    return InfraRuleSet(merge_rules(load_builtin_rules(), site))


def mail_transports(settings: NotifySettings, aws: AwsClients) -> list[MailTransport]:
    """The configured transports: `ses`, `file` (needs MAIL_OUT_DIR), or both."""
    from citriage.adapters.aws.ses import SesTransport
    from citriage.notify.transports import FileTransport

    transports: list[MailTransport] = []
    for name in settings.mail_transports:
        if name is MailTransportName.SES:
            transports.append(SesTransport(aws.sesv2, settings.ses_configuration_set))
        elif name is MailTransportName.FILE:
            if not settings.mail_out_dir:
                raise ValueError("MAIL_TRANSPORTS has 'file' but MAIL_OUT_DIR is not set")
            # Local modes: a mail retried after a crash is delivered once.
            transports.append(FileTransport(Path(settings.mail_out_dir), once=True))
    if not transports:
        raise ValueError("MAIL_TRANSPORTS names no transport")
    return transports


def notify_service(settings: NotifySettings, aws: AwsClients) -> NotifyService:
    """The notifier over DynamoDB and the configured mail transports."""
    from citriage.notify.audience import NotifyPolicy
    from citriage.notify.service import NotifyService

    return NotifyService(
        reports=RunStore(aws.table(settings.runs_table)),
        subscriptions=SubscriptionStore(aws.table(settings.subscriptions_table)),
        dedupe=DedupeStore(aws.table(settings.dedupe_table)),
        transports=mail_transports(settings, aws),
        sender=settings.mail_sender,
        renderer=mail_renderer(settings, aws),
        history=HistoryStore(aws.table(settings.runs_table)),
        suppressions=SuppressionStore(aws.table(settings.suppressions_table)),
        policy=NotifyPolicy.of(settings),
        links=unsubscribe_links(settings),
        holds=HeldRunStore(aws.table(settings.incidents_table)) if settings.incidents_table else None,
    )


def unsubscribe_links(settings: NotifySettings) -> UnsubscribeLinks:
    """Signed one-click links when the API URL and the signing secret are set; else none."""
    from citriage.notify.unsubscribe import UnsubscribeLinks

    keys = SecretKeys(settings.unsubscribe_secret_arn) if settings.unsubscribe_secret_arn else None
    return UnsubscribeLinks(settings.public_api_url, keys)


def unsubscribe_service(settings: UnsubscribeSettings, aws: AwsClients) -> UnsubscribeService:
    """The unsubscribe route over the subscriptions table and the signing secret."""
    from citriage.notify.unsubscribe import UnsubscribeService

    subscriptions = SubscriptionStore(aws.table(settings.subscriptions_table))
    return UnsubscribeService(subscriptions, SecretKeys(settings.unsubscribe_secret_arn))


def mail_renderer(settings: NotifySettings, aws: AwsClients) -> MailRenderer:
    """The packaged templates, under the site's own from a directory or S3 when configured."""
    from citriage.notify.render import MailRenderer, site_loader

    s3, uri = (aws.s3 if settings.mail_templates_s3_uri else None), settings.mail_templates_s3_uri
    return MailRenderer(site=site_loader(settings.mail_templates_dir, s3=s3, s3_uri=uri))


def digest_service(settings: NotifySettings, aws: AwsClients) -> DigestService:
    """The digest sender: the notifier's tables, transports and templates (and the signatures,
    whose lifecycle flags the admins' weekly digest lists)."""
    from citriage.adapters.aws.known_issues import KnownIssueStore
    from citriage.notify.digest import DigestService

    return DigestService(
        records=HistoryStore(aws.table(settings.runs_table)),
        subscriptions=SubscriptionStore(aws.table(settings.subscriptions_table)),
        dedupe=DedupeStore(aws.table(settings.dedupe_table)),
        transports=mail_transports(settings, aws),
        sender=settings.mail_sender,
        renderer=mail_renderer(settings, aws),
        suppressions=SuppressionStore(aws.table(settings.suppressions_table)),
        links=unsubscribe_links(settings),
        admins=settings.ci_admins,
        admin_infra_daily=settings.ci_admin_infra_delivery == "daily",
        known_issues=KnownIssueStore(aws.table(table)) if (table := settings.known_issues_table) else None,
    )


def suppression_store(settings: SesEventsSettings, aws: AwsClients) -> SuppressionStore:
    """The suppression list the SES event handler writes."""
    return SuppressionStore(aws.table(settings.suppressions_table))


def sweeper(settings: SweepSettings, aws: AwsClients) -> Sweeper:
    """The periodic-job sweeper over the CI APIs, DynamoDB (dedupe and cursors) and SQS."""
    from citriage.intake.sweep import JsonApi, Sweeper

    table = aws.table(settings.dedupe_table)
    tokens = SecretKeys(settings.ci_tokens_secret_arn) if settings.ci_tokens_secret_arn else None
    needs_jenkins = any(job.kind == "jenkins" for job in settings.sweep_jobs)
    return Sweeper(
        settings,
        JsonApi(settings),
        cursors=CursorStore(table),
        dedupe=DedupeStore(table, settings.dedupe_ttl_days),
        queue=RunQueue(aws.sqs, settings.analyze_queue_url),
        tokens=tokens if needs_jenkins else None,
    )


def known_issue_store(table: str, aws: AwsClients) -> KnownIssueStore:
    """The known-issues table (the CLI, demo, serve and tests)."""
    from citriage.adapters.aws.known_issues import KnownIssueStore

    return KnownIssueStore(aws.table(table))


def run_store(table: str, aws: AwsClients) -> RunStore:
    """The runs table's reports (the CLI, demo, serve and tests)."""
    return RunStore(aws.table(table))


def subscription_store(table: str, aws: AwsClients) -> SubscriptionStore:
    """The subscriptions table (the CLI, demo, serve and tests)."""
    return SubscriptionStore(aws.table(table))


def query_service(
    settings: QuerySettings, aws: AwsClients, incidents: IncidentSettings | None = None
) -> QueryService:
    """The read side over the runs and known-issues tables and the queues (and the incidents
    table, when named)."""
    from citriage.adapters.aws.known_issues import KnownIssueStore
    from citriage.adapters.aws.run_index import QueueDepths, RunQueries
    from citriage.query.service import QueryService

    queues = {
        name: url
        for name, url in (
            ("analyze", settings.analyze_queue_url),
            ("analyze-dlq", settings.analyze_dlq_url),
            ("notify", settings.notify_queue_url),
            ("notify-dlq", settings.notify_dlq_url),
        )
        if url
    }
    return QueryService(
        runs=RunQueries(aws.table(settings.runs_table)),
        reports=RunStore(aws.table(settings.runs_table)),
        known_issues=KnownIssueStore(aws.table(settings.known_issues_table)),
        queues=QueueDepths(aws.sqs, queues),
        analyze_queue=RunQueue(aws.sqs, settings.analyze_queue_url),
        incidents=incident_ledger(incidents.incidents_table, incidents, aws, settings.event_bus_name)
        if incidents and incidents.incidents_table
        else None,
    )


def incident_ledger(
    table: str, settings: IncidentSettings, aws: AwsClients, event_bus_name: str | None
) -> IncidentLedger:
    """The downtime ledger; with a bus, an admin's closing is announced on it."""
    from citriage.adapters.aws.incidents import IncidentStore
    from citriage.incidents.ledger import IncidentLedger

    tracker = incident_tracker(table, settings, aws)
    publisher = EventPublisher(aws.events, event_bus_name) if event_bus_name else None
    return IncidentLedger(IncidentStore(aws.table(table), aws.dynamodb_client), tracker, publisher)


def token_store(table: str, aws: AwsClients) -> TokenStore:
    """The API tokens table (the authorizer, `citriage tokens`, serve and tests)."""
    from citriage.adapters.aws.tokens import TokenStore

    return TokenStore(aws.table(table))


def incident_upkeep(
    settings: IncidentSettings, upkeep: IncidentUpkeepSettings, fetch: FetchSettings, aws: AwsClients
) -> tuple[IncidentTracker, EventPublisher, HoldService]:
    """The incident round's tracker, the bus it announces on, and the held runs' rechecks."""
    from citriage.adapters.aws.incidents import IncidentStore
    from citriage.feedback.http import CiApi
    from citriage.feedback.rechecks import CiRechecker
    from citriage.incidents.holds import HoldService
    from citriage.models.incident import HoldPolicy

    if not settings.incidents_table:
        raise CitriageError("INCIDENTS_TABLE is not set")
    tracker = incident_tracker(settings.incidents_table, settings, aws)
    publisher = EventPublisher(aws.events, upkeep.event_bus_name)
    tokens = SecretKeys(upkeep.ci_tokens_secret_arn) if upkeep.ci_tokens_secret_arn else None
    holds = HoldService(
        IncidentStore(aws.table(settings.incidents_table), aws.dynamodb_client),
        HeldRunStore(aws.table(settings.incidents_table)),
        CiRechecker(CiApi(fetch), tokens),
        publisher,
        HoldPolicy(hold_hours=upkeep.hold_hours, recheck_comment=upkeep.recheck_comment),
    )
    return tracker, publisher, holds


def feedback_services(
    settings: FeedbackSettings, fetch: FetchSettings, aws: AwsClients
) -> tuple[BuildsetTracker, ReviewService]:
    """The buildset tracker (its events on the bus) and the reviews that answer the CI."""
    from citriage.adapters.aws.buildsets import BuildsetStore
    from citriage.feedback.buildsets import BuildsetTracker
    from citriage.feedback.http import CiApi
    from citriage.feedback.reviews import ReviewService
    from citriage.feedback.sizes import BuildsetSizes
    from citriage.models.buildset import FeedbackPolicy

    tokens = SecretKeys(settings.ci_tokens_secret_arn) if settings.ci_tokens_secret_arn else None
    buildsets, reports = (
        BuildsetStore(aws.table(settings.buildsets_table)),
        RunStore(aws.table(settings.runs_table)),
    )
    publisher = EventPublisher(aws.events, settings.event_bus_name)
    sizes = BuildsetSizes(CiApi(fetch))
    tracker = BuildsetTracker(buildsets, reports, publisher, settings.buildset_deadline, sizes=sizes)
    policy = FeedbackPolicy(
        gerrit_url=settings.gerrit_url or None, vote_label=settings.gerrit_vote_label or None
    )
    return tracker, ReviewService(CiApi(fetch), tokens, DedupeStore(aws.table(settings.dedupe_table)), policy)


def release_gate(settings: GateSettings, fetch: FetchSettings, aws: AwsClients) -> ReleaseGate | None:
    """The release gate over its OBS-style API (the one host it may call), or None when no
    ReleaseGateUrl is set."""
    from citriage.feedback.gate import ReleaseGate
    from citriage.feedback.http import CiApi

    if not settings.release_gate_url:
        return None
    api = CiApi(fetch.model_copy(update={"log_hosts": [settings.gate_host]}))
    tokens = SecretKeys(settings.ci_tokens_secret_arn) if settings.ci_tokens_secret_arn else None
    dedupe, group = DedupeStore(aws.table(settings.dedupe_table)), settings.release_gate_group or ""
    return ReleaseGate(
        api, tokens, dedupe, settings.release_gate_url, group, settings.release_gate_request_pattern
    )


def downtime_mailer(settings: NotifySettings, incidents: IncidentSettings, aws: AwsClients) -> DowntimeMailer:
    """The monthly downtime report: the ledger over the incidents table, mailed as digests are."""
    from citriage.adapters.aws.incidents import IncidentStore
    from citriage.incidents.ledger import IncidentLedger
    from citriage.notify.audience import NotifyPolicy
    from citriage.notify.downtime_mail import DowntimeMailer
    from citriage.notify.service import MailDelivery

    if not incidents.incidents_table:
        raise CitriageError("INCIDENTS_TABLE is not set")
    return DowntimeMailer(
        ledger=IncidentLedger(IncidentStore(aws.table(incidents.incidents_table), aws.dynamodb_client)),
        subscriptions=SubscriptionStore(aws.table(settings.subscriptions_table)),
        delivery=MailDelivery(
            DedupeStore(aws.table(settings.dedupe_table)),
            mail_transports(settings, aws),
            SuppressionStore(aws.table(settings.suppressions_table)),
            unsubscribe_links(settings),
        ),
        renderer=mail_renderer(settings, aws),
        sender=settings.mail_sender,
        policy=NotifyPolicy(ci_admins=settings.ci_admins),
    )
