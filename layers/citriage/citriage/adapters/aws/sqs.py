"""SQS: the analyze queue."""

from __future__ import annotations

from typing import Any

from citriage.models import RunEvent


class RunQueue:
    """The analyze queue: one message per run to analyze."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self._url = queue_url

    def send(self, run: RunEvent) -> None:
        """Enqueue a run."""
        self._sqs.send_message(QueueUrl=self._url, MessageBody=run.model_dump_json())
