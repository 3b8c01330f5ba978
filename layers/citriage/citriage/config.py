"""Settings of each function, read from the environment once and validated at start.

Logic never reads `os.environ`; handlers build one of these and pass values down.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class _EnvSettings(BaseModel):
    # Each function builds one or two of these: their validators are made on first use, not at
    # import (building all of them took 38 ms of every cold start).
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Build the settings from environment variables named like the fields, upper-cased."""
        env = os.environ if environ is None else environ
        values = {name: env[name.upper()] for name in cls.model_fields if name.upper() in env}
        return cls.model_validate(values)


class WebhookSettings(_EnvSettings):
    """WebhookFunction: where to enqueue, how to dedupe, where the HMAC keys live."""

    analyze_queue_url: str
    dedupe_table: str
    webhook_secret_arn: str
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    # The Gerrit accounts (username, e-mail or name) whose comments list a CI's job results.
    gerrit_ci_accounts: list[str] = Field(default_factory=lambda: ["zuul"])
    # As long as the runs they guard are kept (RUN_RETENTION_DAYS): a redelivery later than a
    # shorter claim would be analysed and mailed again.
    dedupe_ttl_days: int = Field(default=400, gt=0)

    # Uploads (`citriage submit`): the bucket, the cap on an archive, the API tokens that may
    # submit, and the runs table an upload's status is read from.
    uploads_bucket: str | None = None
    max_upload_bytes: int = Field(default=256 * 1024 * 1024, gt=0)
    tokens_table: str | None = None
    runs_table: str | None = None

    _split_accounts = field_validator("gerrit_ci_accounts", mode="before")(_split)


class FetchSettings(_EnvSettings):
    """Which log hosts may be fetched and how much."""

    log_hosts: list[str] = Field(default_factory=list)
    allow_private_addresses: bool = False
    max_file_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    # A console is scanned whole up to this (its time is bounded by the deadlines below); one
    # over it is read head and tail: jobs die at the end of their logs.
    max_console_bytes: int = Field(default=1024 * 1024 * 1024, gt=0)
    max_run_bytes: int = Field(default=2048 * 1024 * 1024, gt=0)
    # An uploaded archive (`citriage submit`) is taken up to this (compressed); its members are
    # read within max_file_bytes each and max_run_bytes together.
    max_upload_bytes: int = Field(default=256 * 1024 * 1024, gt=0)
    # Where uploaded archives are kept (the uploads bucket).
    uploads_bucket: str | None = None
    console_tail_bytes: int = Field(default=16 * 1024 * 1024, ge=0)
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=30.0, gt=0)
    retries: int = Field(default=3, ge=0)
    # A read timeout restarts with every chunk; this bounds a whole file's download, at the socket.
    max_file_seconds: float = Field(default=60.0, gt=0)
    # And this a whole run's reading (the Lambda's remaining time bounds it too).
    max_run_seconds: float = Field(default=240.0, gt=0)

    _split_hosts = field_validator("log_hosts", mode="before")(_split)


def _json_object(value: object) -> object:
    if isinstance(value, str):
        return json.loads(value) if value.strip() else {}
    return value


class LayoutSettings(_EnvSettings):
    """Where to find results when a job's layout is not one citriage knows.

    `result_paths` maps job-name globs to result files under the log root, e.g. (as the
    RESULT_PATHS environment variable) `{"tripleo-ci-*": ["logs/undercloud/tempest/x.xml"]}`.
    """

    result_paths: dict[str, list[str]] = Field(default_factory=dict)

    _parse_paths = field_validator("result_paths", mode="before")(_json_object)


class AnalyzeSettings(_EnvSettings):
    """AnalyzeFunction: tables, bus and log fetching."""

    runs_table: str
    known_issues_table: str
    # Where an analysis holds its lease (two deliveries of one run analyse it once).
    dedupe_table: str
    event_bus_name: str
    # JSON secret of CI API tokens, per source host -> credential (ci_api/credentials.py); unset: anonymous.
    ci_tokens_secret_arn: str | None = None
    run_retention_days: int = Field(default=400, gt=0)
    history_ttl_days: int = Field(default=90, gt=0)
    infra_rules: str | None = Field(
        default=None,
        description="Site infrastructure rules: a YAML file, a directory of them, or s3://bucket/key",
    )


class IncidentSettings(_EnvSettings):
    """Incidents (AnalyzeFunction, QueryFunction): their table, and their thresholds as JSON
    (`{"default": {"runs": 3, ...}, "categories": {"mirror": {...}}}`, docs/incidents.md)."""

    incidents_table: str | None = None
    incident_thresholds: str | None = None


class IncidentUpkeepSettings(_EnvSettings):
    """IncidentsFunction: where the changes it publishes go, and how held runs are rechecked
    (HOLD_HOURS, RECHECK_COMMENT; the CI credentials in the CI API tokens secret)."""

    event_bus_name: str
    hold_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    recheck_comment: str = Field(default="recheck", min_length=1, max_length=200)
    ci_tokens_secret_arn: str | None = None


class FeedbackSettings(_EnvSettings):
    """FeedbackFunction: where buildsets are tracked and their events go, and how the CI is
    answered (docs/feedback.md); the credentials are in the CI API tokens secret."""

    buildsets_table: str
    runs_table: str
    dedupe_table: str
    event_bus_name: str
    ci_tokens_secret_arn: str | None = None
    # A buildset not complete this long after its first run is published as incomplete.
    buildset_deadline_minutes: int = Field(default=180, ge=1, le=7 * 1440)
    # Reviews go to this Gerrit instead of the change URL's (a test Gerrit, `serve --gerrit-url`).
    gerrit_url: str | None = None
    # A label the review votes on (e.g. Verified): off unless set.
    gerrit_vote_label: str | None = None

    @property
    def buildset_deadline(self) -> timedelta:
        """How long a buildset may take to be analysed whole."""
        return timedelta(minutes=self.buildset_deadline_minutes)


class GateSettings(_EnvSettings):
    """ReleaseGateFunction: the OBS-style API whose release requests it accepts or declines."""

    dedupe_table: str
    release_gate_url: str | None = None
    release_gate_group: str | None = None
    # Which part of a buildset's id names the release request (the group `request`); by default
    # qem-bot's openQA BUILD `:<request>:<package>`. A buildset it does not match is left alone.
    release_gate_request_pattern: str = r":(?P<request>\d+):"
    ci_tokens_secret_arn: str | None = None

    @property
    def gate_host(self) -> str:
        """The release API's host (and port), as LOG_HOSTS names one: the only host the gate
        calls (`http://host:port` when its URL is plain http, which only that form allows)."""
        parts = urlsplit(self.release_gate_url or "")
        return f"http://{parts.netloc}" if parts.scheme == "http" else parts.netloc


class QuerySettings(_EnvSettings):
    """QueryFunction: the tables it reads, the queues whose depths it shows, and the analyze
    queue a reanalysis goes to."""

    runs_table: str
    known_issues_table: str
    analyze_queue_url: str
    analyze_dlq_url: str | None = None
    notify_queue_url: str | None = None
    notify_dlq_url: str | None = None
    # Where an admin's closing of an incident is announced.
    event_bus_name: str | None = None


class AuthorizerSettings(_EnvSettings):
    """AuthorizerFunction (and `citriage tokens`): the tokens table."""

    tokens_table: str | None = None


class ClientSettings(_EnvSettings):
    """The `citriage` client (docs/api.md): its server and token from the environment, and where
    its options file is (`$XDG_CONFIG_HOME/citriage/client.conf`, else `~/.config/...`)."""

    citriage_server: str | None = None
    citriage_token: str | None = None
    # `citriage submit`'s HMAC key (the generic source's), when it signs instead of a token.
    citriage_key: str | None = None
    citriage_client_conf: str | None = None
    xdg_config_home: str | None = None
    home: str | None = None

    def options_file(self) -> str | None:
        """The options file's path (it may not exist)."""
        if self.citriage_client_conf:
            return self.citriage_client_conf
        base = self.xdg_config_home or (f"{self.home}/.config" if self.home else None)
        return f"{base}/citriage/client.conf" if base else None


class KnownIssuesCliSettings(_EnvSettings):
    """`citriage known-issues`: the tables, when not given on the command line."""

    known_issues_table: str | None = None
    runs_table: str | None = None


class MailTransportName(StrEnum):
    """Where mail goes: SES, or `.eml`/`.html` files under MAIL_OUT_DIR."""

    SES = "ses"
    FILE = "file"


class NotifySettings(_EnvSettings):
    """NotifyFunction: who to mail, how, and from which address."""

    # The digest function's: the admins' weekly digest flags signatures to retire or fix.
    known_issues_table: str | None = None
    runs_table: str
    subscriptions_table: str
    dedupe_table: str
    mail_sender: str
    mail_transports: list[MailTransportName] = Field(default_factory=lambda: [MailTransportName.SES])
    mail_out_dir: str | None = None
    ses_configuration_set: str | None = None
    suppressions_table: str
    ci_admins: list[str] = Field(default_factory=list)
    # An infra run outside any incident reaches the CI admins in their daily digest, or at once.
    ci_admin_infra_delivery: Literal["daily", "immediate"] = "daily"
    fixed_mails: bool = True
    # Where the runs an open incident holds are kept for their recheck (none: not kept).
    incidents_table: str | None = None
    mail_templates_dir: str | None = None
    mail_templates_s3_uri: str | None = None
    # The HTTP API's URL (one-click unsubscribe links) and the secret that signs them; without
    # them, mails carry a mailto: List-Unsubscribe only.
    public_api_url: str | None = None
    unsubscribe_secret_arn: str | None = None

    _split_transports = field_validator("mail_transports", "ci_admins", mode="before")(_split)

    @field_validator(
        "mail_templates_dir",
        "mail_templates_s3_uri",
        "ses_configuration_set",
        "public_api_url",
        "unsubscribe_secret_arn",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        # CloudFormation cannot omit a variable, only leave it empty.
        return None if value == "" else value


class UnsubscribeSettings(_EnvSettings):
    """UnsubscribeFunction: the subscriptions table, and the secret that signs the links."""

    subscriptions_table: str
    unsubscribe_secret_arn: str


class SesEventsSettings(_EnvSettings):
    """SesEventsFunction: where bounced and complaining addresses are kept."""

    suppressions_table: str


class SubscriptionsCliSettings(_EnvSettings):
    """`citriage subscriptions`: the table, unless --table names it."""

    subscriptions_table: str | None = None


class ZuulPeriodicJob(BaseModel):
    """A Zuul job to sweep: builds of `job_name` in `pipeline` of a tenant, from the builds API."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    kind: Literal["zuul"]
    api: str = Field(description="Zuul's web root, e.g. https://zuul.opendev.org")
    tenant: str
    pipeline: str
    job_name: str
    project: str | None = None

    @property
    def key(self) -> str:
        """Identity of the job's cursor."""
        return (
            f"zuul:{self.api.rstrip('/')}/{self.tenant}/{self.pipeline}/{self.job_name}/{self.project or '*'}"
        )


class JenkinsPeriodicJob(BaseModel):
    """A Jenkins job to sweep, by its URL (`https://jenkins.example.org/job/nightly/`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    kind: Literal["jenkins"]
    job_url: str

    @property
    def key(self) -> str:
        """Identity of the job's cursor."""
        return f"jenkins:{self.job_url.rstrip('/')}"


PeriodicJob = Annotated[ZuulPeriodicJob | JenkinsPeriodicJob, Field(discriminator="kind")]


def _json_list(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


class SweepSettings(_EnvSettings):
    """SweepFunction: which periodic jobs, how far back, and how hard to try a CI's API."""

    analyze_queue_url: str
    dedupe_table: str
    sweep_jobs: list[PeriodicJob] = Field(default_factory=list)
    ci_tokens_secret_arn: str | None = None
    dedupe_ttl_days: int = Field(default=400, gt=0)
    # A first sweep (no cursor yet) looks this far back.
    lookback_hours: float = Field(default=24.0, gt=0)
    # Builds finish out of start order: each sweep looks this far behind its cursor again.
    overlap_hours: float = Field(default=12.0, ge=0)
    page_size: int = Field(default=50, gt=0, le=1000)
    max_pages: int = Field(default=20, gt=0)
    api_retries: int = Field(default=2, ge=0)
    api_timeout: float = Field(default=10.0, gt=0)
    max_response_bytes: int = Field(default=8 * 1024 * 1024, gt=0)

    _parse_jobs = field_validator("sweep_jobs", mode="before")(_json_list)


class TracingSettings(_EnvSettings):
    """Whether the handlers trace with X-Ray (the template's Tracing parameter sets it)."""

    powertools_trace_disabled: bool = False
