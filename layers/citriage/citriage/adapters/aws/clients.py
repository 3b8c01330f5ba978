"""boto3 clients and DynamoDB tables, created on first use and kept for warm invocations.

boto3 honours AWS_ENDPOINT_URL, so the same clients reach AWS or the embedded local endpoint:
there is no "local" branch anywhere, only configuration.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

# boto3's typed overloads want literal service names; these take a name from a variable.
_client_of: Any = boto3.client
_resource_of: Any = boto3.resource


class AwsClients:
    """One set of clients per process (each Lambda's composition root builds one).

    `interactive` clients (the CLI's) give up within seconds: a missing region, missing
    credentials or an unreachable endpoint is told to a person at once, not after minutes of
    botocore's patient retries.
    """

    def __init__(self, interactive: bool = False) -> None:
        self._config = (
            Config(connect_timeout=3, read_timeout=20, retries={"max_attempts": 2, "mode": "standard"})
            if interactive
            else None
        )

    def _client(self, service: str, config: Config | None = None) -> Any:
        chosen = config if config is not None else self._config
        return _client_of(service, config=chosen) if chosen is not None else _client_of(service)

    @cached_property
    def _dynamodb(self) -> Any:
        return _resource_of("dynamodb", config=self._config) if self._config else _resource_of("dynamodb")

    def table(self, name: str) -> Any:
        """A DynamoDB table by name."""
        return self._dynamodb.Table(name)

    @cached_property
    def dynamodb_client(self) -> Any:
        """The low-level DynamoDB client (table creation in local mode)."""
        return self._client("dynamodb")

    @cached_property
    def sqs(self) -> Any:
        """SQS."""
        return self._client("sqs")

    @cached_property
    def events(self) -> Any:
        """EventBridge."""
        return self._client("events")

    @cached_property
    def sesv2(self) -> Any:
        """SES v2, with botocore's adaptive retries: the one retry layer for SES throttling (it
        backs off by the rate SES allows, client-side, across the process's sends)."""
        return self._client("sesv2", Config(retries={"total_max_attempts": 5, "mode": "adaptive"}))

    @cached_property
    def s3(self) -> Any:
        """S3."""
        return self._client("s3")

    @cached_property
    def sns(self) -> Any:
        """SNS (for creating the alerts topic locally)."""
        return self._client("sns")

    @cached_property
    def secretsmanager(self) -> Any:
        """Secrets Manager (for creating secrets locally; reads go through Powertools' cache)."""
        return self._client("secretsmanager")


def aws_errors() -> tuple[type[Exception], ...]:
    """The exceptions a boto3 call raises (for the CLI to turn into one line)."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415  # boto3 is loaded by then anyway

    return (BotoCoreError, ClientError)


def describe_aws_error(exc: BaseException) -> str | None:
    """A boto3 failure as one line that names the problem and the fix (None: not boto3's)."""
    from botocore import exceptions  # noqa: PLC0415  # boto3 is loaded by then anyway

    if isinstance(exc, exceptions.NoRegionError):
        return "no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION, or a profile's region)"
    if isinstance(exc, exceptions.NoCredentialsError | exceptions.PartialCredentialsError):
        return "no AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    if isinstance(exc, exceptions.EndpointConnectionError | exceptions.ConnectTimeoutError):
        return f"cannot reach the AWS endpoint {getattr(exc, 'kwargs', {}).get('endpoint_url', '')}".rstrip()
    if isinstance(exc, exceptions.ClientError):
        error = exc.response.get("Error", {})
        return f"AWS refused the request: {error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(
            ": "
        )
    if isinstance(exc, exceptions.BotoCoreError):
        return f"AWS client error: {exc}"
    return None
