"""boto3 clients and DynamoDB tables, created on first use and kept for warm invocations.

boto3 honours AWS_ENDPOINT_URL, so the same clients reach AWS or the embedded local endpoint:
there is no "local" branch anywhere, only configuration.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3


class AwsClients:
    """One set of clients per process (each Lambda's composition root builds one)."""

    @cached_property
    def _dynamodb(self) -> Any:
        return boto3.resource("dynamodb")

    def table(self, name: str) -> Any:
        """A DynamoDB table by name."""
        return self._dynamodb.Table(name)

    @cached_property
    def dynamodb_client(self) -> Any:
        """The low-level DynamoDB client (table creation in local mode)."""
        return boto3.client("dynamodb")

    @cached_property
    def sqs(self) -> Any:
        """SQS."""
        return boto3.client("sqs")

    @cached_property
    def events(self) -> Any:
        """EventBridge."""
        return boto3.client("events")

    @cached_property
    def sesv2(self) -> Any:
        """SES v2."""
        return boto3.client("sesv2")

    @cached_property
    def s3(self) -> Any:
        """S3."""
        return boto3.client("s3")

    @cached_property
    def secretsmanager(self) -> Any:
        """Secrets Manager (for creating secrets locally; reads go through Powertools' cache)."""
        return boto3.client("secretsmanager")


def aws_errors() -> tuple[type[Exception], ...]:
    """The exceptions a boto3 call raises (for the CLI to turn into one line)."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415  # boto3 is loaded by then anyway

    return (BotoCoreError, ClientError)
