"""FeedbackFunction: from its queue, each `RunAnalyzed` is recorded into its buildset (the last
run publishes `BuildsetAnalyzed`) and each `BuildsetAnalyzed` is answered once on the CI (a
Gerrit review, a GitHub check run, a GitLab note); every few minutes, the buildsets past their
deadline are published as incomplete (docs/feedback.md)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from citriage.adapters.aws.clients import AwsClients
from citriage.config import FeedbackSettings, FetchSettings
from citriage.feedback.buildsets import BuildsetTracker
from citriage.feedback.reviews import FeedbackNotConfigured, FeedbackUnavailable, ReviewService
from citriage.models import RunAnalyzedEnvelope
from citriage.models.buildset import BuildsetAnalyzedEnvelope
from citriage.wiring import feedback_services

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def parts() -> tuple[BuildsetTracker, ReviewService]:
    """Built on first use from the environment, then kept for warm invocations."""
    return feedback_services(FeedbackSettings.from_env(), FetchSettings.from_env(), AwsClients())


def feedback_record(record: SQSRecord) -> None:
    """One event: a run into its buildset, or a buildset's answer to its CI."""
    kind = json.loads(record.body).get("detail-type")
    tracker, reviews = parts()
    if kind == "RunAnalyzed":
        published = tracker.on_run(RunAnalyzedEnvelope.model_validate_json(record.body).detail)
        if published is not None:
            logger.info("buildset analysed", buildset=published.id, approvable=published.approvable)
        return
    event = BuildsetAnalyzedEnvelope.model_validate_json(record.body).detail
    try:
        answered = reviews.answer(event)
    except FeedbackNotConfigured as exc:  # no credential, or nothing to answer on: by choice
        logger.info("buildset not answered", buildset=event.id, reason=str(exc))
        return
    except FeedbackUnavailable as exc:
        logger.warning("buildset not answered", buildset=event.id, reason=str(exc))
        return
    if answered is not None:
        logger.info("buildset answered", **answered.model_dump(mode="json"))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Lambda entry point: an SQS batch of RunAnalyzed and BuildsetAnalyzed events, or the
    schedule's deadline round."""
    if "Records" in event:
        return dict(
            process_partial_response(
                event=event, record_handler=feedback_record, processor=processor, context=context
            )
        )
    published = parts()[0].round()
    logger.info("buildset round", published=[e.id for e in published])
    return {"published": [e.id for e in published], "incomplete": [e.id for e in published if e.incomplete]}
