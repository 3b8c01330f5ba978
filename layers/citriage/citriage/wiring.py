"""Building each function's service from its settings and real AWS clients.

boto3 reads AWS_ENDPOINT_URL, so the same wiring serves AWS and the embedded local endpoint.
"""

from __future__ import annotations

from pathlib import Path

import boto3

from citriage.adapters.aws.dynamodb import (
    CursorStore,
    DedupeStore,
    EventPublisher,
    KnownIssueStore,
    RunQueue,
    RunStore,
    SecretKeys,
    SubscriptionStore,
    read_s3_text,
)
from citriage.analyze.matching.engine import (
    InfraRuleSet,
    load_builtin_rules,
    load_site_rules,
    merge_rules,
    parse_rules_yaml,
)
from citriage.analyze.service import AnalyzeService
from citriage.config import (
    AnalyzeSettings,
    FetchSettings,
    LayoutSettings,
    NotifySettings,
    SesEventsSettings,
    SweepSettings,
    WebhookSettings,
)
from citriage.intake.sweep import JsonApi, Sweeper
from citriage.intake.webhook import WebhookService
from citriage.models import InfraRule
from citriage.notify.audience import NotifyPolicy
from citriage.notify.digest import DigestService
from citriage.notify.history import HistoryStore
from citriage.notify.render import MailRenderer, site_loader
from citriage.notify.service import NotifyService
from citriage.notify.ses_events import SuppressionStore
from citriage.notify.transports import FileTransport, MailTransport, SesTransport


def webhook_service(settings: WebhookSettings) -> WebhookService:
    """The webhook intake over Secrets Manager, DynamoDB and SQS."""
    dynamodb = boto3.resource("dynamodb")
    return WebhookService(
        keys=SecretKeys(settings.webhook_secret_arn),
        dedupe=DedupeStore(dynamodb.Table(settings.dedupe_table), settings.dedupe_ttl_days),
        queue=RunQueue(boto3.client("sqs"), settings.analyze_queue_url),
        max_body_bytes=settings.max_body_bytes,
    )


def analyze_service(
    settings: AnalyzeSettings, fetch: FetchSettings, layout: LayoutSettings | None = None
) -> AnalyzeService:
    """The analyzer over DynamoDB and EventBridge."""
    dynamodb = boto3.resource("dynamodb")
    known_issues = KnownIssueStore(dynamodb.Table(settings.known_issues_table))
    return AnalyzeService(
        reports=RunStore(dynamodb.Table(settings.runs_table), settings.run_retention_days),
        known_issues=known_issues,
        publisher=EventPublisher(boto3.client("events"), settings.event_bus_name),
        fetch_settings=fetch,
        history=HistoryStore(dynamodb.Table(settings.runs_table), settings.history_ttl_days),
        hit_stats=known_issues,
        rules=infra_rules(settings.infra_rules),
        layout=layout,
        api_tokens=SecretKeys(settings.ci_tokens_secret_arn) if settings.ci_tokens_secret_arn else None,
    )


def infra_rules(location: str | None) -> InfraRuleSet:
    """The built-in infrastructure rules with a site's file, directory or S3 object applied by id."""
    site: list[InfraRule] = []
    if location and location.startswith("s3://"):
        site = parse_rules_yaml(read_s3_text(boto3.client("s3"), location), location)
    elif location:
        site = load_site_rules(location)
    return InfraRuleSet(merge_rules(load_builtin_rules(), site))


def mail_transports(settings: NotifySettings) -> list[MailTransport]:
    """The configured transports: `ses`, `file` (needs MAIL_OUT_DIR), or both."""
    transports: list[MailTransport] = []
    for name in settings.mail_transports:
        if name == "ses":
            transports.append(SesTransport(boto3.client("sesv2"), settings.ses_configuration_set))
        elif name == "file":
            if not settings.mail_out_dir:
                raise ValueError("MAIL_TRANSPORTS has 'file' but MAIL_OUT_DIR is not set")
            transports.append(FileTransport(Path(settings.mail_out_dir)))
        else:
            raise ValueError(f"unknown mail transport {name!r} (known: ses, file)")
    if not transports:
        raise ValueError("MAIL_TRANSPORTS names no transport")
    return transports


def notify_service(settings: NotifySettings) -> NotifyService:
    """The notifier over DynamoDB and the configured mail transports."""
    dynamodb = boto3.resource("dynamodb")
    return NotifyService(
        reports=RunStore(dynamodb.Table(settings.runs_table)),
        subscriptions=SubscriptionStore(dynamodb.Table(settings.subscriptions_table)),
        dedupe=DedupeStore(dynamodb.Table(settings.dedupe_table)),
        transports=mail_transports(settings),
        sender=settings.mail_sender,
        renderer=mail_renderer(settings),
        history=HistoryStore(dynamodb.Table(settings.runs_table)),
        suppressions=SuppressionStore(dynamodb.Table(settings.suppressions_table)),
        policy=NotifyPolicy(ci_admins=settings.ci_admins, fixed_mails=settings.fixed_mails),
    )


def mail_renderer(settings: NotifySettings) -> MailRenderer:
    """The packaged templates, under the site's own from a directory or S3 when configured."""
    s3 = boto3.client("s3") if settings.mail_templates_s3_uri else None
    return MailRenderer(
        site=site_loader(settings.mail_templates_dir, s3=s3, s3_uri=settings.mail_templates_s3_uri)
    )


def digest_service(settings: NotifySettings) -> DigestService:
    """The digest sender: the notifier's tables, transports and templates."""
    dynamodb = boto3.resource("dynamodb")
    return DigestService(
        records=HistoryStore(dynamodb.Table(settings.runs_table)),
        subscriptions=SubscriptionStore(dynamodb.Table(settings.subscriptions_table)),
        dedupe=DedupeStore(dynamodb.Table(settings.dedupe_table)),
        transports=mail_transports(settings),
        sender=settings.mail_sender,
        renderer=mail_renderer(settings),
        suppressions=SuppressionStore(dynamodb.Table(settings.suppressions_table)),
    )


def suppression_store(settings: SesEventsSettings) -> SuppressionStore:
    """The suppression list the SES event handler writes."""
    return SuppressionStore(boto3.resource("dynamodb").Table(settings.suppressions_table))


def sweeper(settings: SweepSettings) -> Sweeper:
    """The periodic-job sweeper over the CI APIs, DynamoDB (dedupe and cursors) and SQS."""
    table = boto3.resource("dynamodb").Table(settings.dedupe_table)
    tokens = SecretKeys(settings.ci_tokens_secret_arn) if settings.ci_tokens_secret_arn else None
    needs_jenkins = any(job.kind == "jenkins" for job in settings.sweep_jobs)
    return Sweeper(
        settings,
        JsonApi(settings),
        cursors=CursorStore(table),
        dedupe=DedupeStore(table, settings.dedupe_ttl_days),
        queue=RunQueue(boto3.client("sqs"), settings.analyze_queue_url),
        tokens=tokens if needs_jenkins else None,
    )
