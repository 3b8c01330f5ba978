"""Every dedupe and claim key, in one place: a key's shape is a contract with the dedupe table,
so an intake, a sweep and a redelivery must all build the same key for the same work."""

from __future__ import annotations

import hashlib


def intake_run(run_id: str) -> str:
    """Claimed by every intake (webhook, sweep) before a run is enqueued: one analysis a run."""
    return f"run#{run_id}"


def intake_delivery(source: str, delivery_id: str) -> str:
    """Claimed for a CI's delivery id (GitHub's X-GitHub-Delivery): one intake a delivery."""
    return f"delivery#{source}:{delivery_id}"


def analysis(run_id: str, reanalysis: str | None = None) -> str:
    """Leased by the worker analysing a run: two deliveries of one run (or of one reanalysis of
    it) analyse it once."""
    return f"analysis#{run_id}" if reanalysis is None else f"analysis#{run_id}#{reanalysis}"


def run_mail(run_id: str, email: str) -> str:
    """Claimed before a run's mail to one address is sent: one mail a run and address."""
    return f"mail#{run_id}#{email}"


def incident_mail(incident_id: str, change: str, email: str) -> str:
    """Claimed before an incident alert goes to one address: one per incident, change and address."""
    return f"incident-mail#{incident_id}#{change}#{email}"


def downtime_mail(month: str, email: str) -> str:
    """Claimed before a month's downtime report goes to one address: one per month and address."""
    return f"downtime-mail#{month}#{email}"


def digest_mail(period: str, day: str, email: str) -> str:
    """Claimed before a digest goes to one address: one digest a period, first day and address."""
    return f"digest#{period}#{day}#{email}"


def buildset_answer(buildset_id: str) -> str:
    """Claimed before a buildset's review, check run or note is sent: one answer a buildset."""
    return f"answer#{buildset_id}"


def gate_decision(buildset_id: str, request: str) -> str:
    """Claimed before the release gate accepts or declines a request for a buildset: one decision."""
    return f"gate#{buildset_id}#{request}"


def upload_id(run_id: str) -> str:
    """An uploaded run's prefix in the uploads bucket: the same for every submit of one build, so
    a retry reuses its keys."""
    return hashlib.sha256(run_id.encode("utf-8")).hexdigest()[:32]


def cursor(job_key: str) -> str:
    """The item holding a periodic job's sweep cursor."""
    return f"cursor#{job_key}"
