"""Rendering mails with Jinja2: autoescaped HTML and plain text, strict about missing fields.

Templates are chosen per job kind (tempest, junit, openqa, infra) by `templates.yaml` rules. A
site overrides any template, or the rules, from a directory or an S3 prefix; the packaged
templates fill in whatever the site does not provide.
"""

from __future__ import annotations

import hashlib
import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import jinja2
import yaml
from pydantic import BaseModel, Field, ValidationError

from citriage.errors import CitriageError
from citriage.models import MailMessage, RunReport, Verdict, glob_match
from citriage.notify.view import MailContext, build_view

RULES_FILE = "templates.yaml"
INFRA_TEMPLATE = "infra"
# Bounds on what a site's S3 prefix may hold: templates are small text files.
MAX_SITE_TEMPLATES = 200
MAX_SITE_TEMPLATE_BYTES = 256 * 1024


class TemplateRule(BaseModel):
    """Which template renders the mails of jobs (or sources) matching the globs."""

    template: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    jobs: list[str] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)

    def matches(self, source: str, job: str) -> bool:
        """True when the job or the source matches (a rule with neither matches nothing)."""
        return (bool(self.jobs) and glob_match(job, self.jobs)) or (
            bool(self.sources) and glob_match(source, self.sources)
        )


def _read_rules(loader: jinja2.BaseLoader, env: jinja2.Environment) -> list[TemplateRule]:
    try:
        text = loader.get_source(env, RULES_FILE)[0]
    except jinja2.TemplateNotFound:
        return []
    data = yaml.safe_load(text) or []
    if not isinstance(data, list):
        raise CitriageError(f"{RULES_FILE} holds a YAML list of rules")
    try:
        return [TemplateRule.model_validate(item) for item in data]
    except ValidationError as exc:
        raise CitriageError(f"{RULES_FILE}: {exc}") from exc


def s3_template_loader(s3: Any, bucket: str, prefix: str) -> jinja2.DictLoader:
    """A site's templates (and templates.yaml) from an S3 prefix, read once (at cold start)."""
    prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
    files: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"][len(prefix) :]
            if "/" in name or not (name.endswith(".j2") or name == RULES_FILE):
                continue
            if obj["Size"] > MAX_SITE_TEMPLATE_BYTES:
                raise CitriageError(
                    f"site template s3://{bucket}/{obj['Key']} is over {MAX_SITE_TEMPLATE_BYTES} bytes"
                )
            if len(files) >= MAX_SITE_TEMPLATES:
                raise CitriageError(
                    f"more than {MAX_SITE_TEMPLATES} site templates under s3://{bucket}/{prefix}"
                )
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            files[name] = body.decode("utf-8")
    return jinja2.DictLoader(files)


def site_loader(
    directory: str | None = None, s3: Any = None, s3_uri: str | None = None
) -> jinja2.BaseLoader | None:
    """The site's template loader from a directory and/or `s3://bucket/prefix`, or None."""
    loaders: list[jinja2.BaseLoader] = []
    if directory:
        if not Path(directory).is_dir():
            raise CitriageError(f"mail template directory {directory} does not exist")
        loaders.append(jinja2.FileSystemLoader(directory))
    if s3_uri:
        if not s3_uri.startswith("s3://"):
            raise CitriageError(f"mail template location {s3_uri!r} is not an s3:// URI")
        bucket, _, prefix = s3_uri[len("s3://") :].partition("/")
        loaders.append(s3_template_loader(s3, bucket, prefix))
    return jinja2.ChoiceLoader(loaders) if loaders else None


class MailRenderer:
    """Renders a report's mail (or a digest) from the site's templates over the packaged ones."""

    def __init__(
        self, loader: jinja2.BaseLoader | None = None, site: jinja2.BaseLoader | None = None
    ) -> None:
        packaged = loader or jinja2.PackageLoader("citriage.notify", "templates")
        combined: jinja2.BaseLoader = jinja2.ChoiceLoader([site, packaged]) if site else packaged
        # A field a template names but the view lacks is an error, never a blank in a mail.
        self._html = jinja2.Environment(
            loader=combined, autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True
        )
        self._text = jinja2.Environment(
            loader=combined,
            autoescape=False,  # noqa: S701  # the plain-text part is not HTML: escaping would corrupt it
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
        )
        # Site rules first, so they win; packaged rules after, as the fallback.
        self.rules = (_read_rules(site, self._html) if site else []) + _read_rules(packaged, self._html)

    @property
    def environments(self) -> tuple[jinja2.Environment, jinja2.Environment]:
        """The HTML and text environments (for `templates check` to parse templates)."""
        return self._html, self._text

    def template_for(self, report: RunReport, context: MailContext | None = None) -> str:
        """The template name (job kind) of a report's mail."""
        fixed = context is not None and context.kind == "fixed"
        if not fixed and report.verdict in (Verdict.INFRA, Verdict.NO_RESULTS):
            return INFRA_TEMPLATE
        for rule in self.rules:
            if rule.matches(report.run.source, report.run.job):
                return rule.template
        return "junit"

    def render(
        self, report: RunReport, sender: str, recipients: list[str], context: MailContext | None = None
    ) -> MailMessage:
        """The mail for a report, as one recipient's context shapes it."""
        view = build_view(report, context)
        message = self.render_view(
            self.template_for(report, context), view, view.subject, sender, recipients, report.run_id
        )
        run = report.run
        # One list per job; one thread per job and change (or per job, for periodic runs).
        thread = f"{run.source}/{run.job}/{run.change or run.branch or ''}"
        return message.model_copy(update={"list_id": run.job, "thread": thread})

    def render_view(
        self, template: str, view: BaseModel, subject: str, sender: str, recipients: list[str], run_id: str
    ) -> MailMessage:
        """Render `<template>.html.j2` and `.txt.j2` from a validated view model."""
        data = view.model_dump()
        return MailMessage(
            subject=subject,
            html=self._html.get_template(f"{template}.html.j2").render(data),
            text=self._text.get_template(f"{template}.txt.j2").render(data),
            sender=sender,
            recipients=recipients,
            run_id=run_id,
        )


def _label(text: str) -> str:
    """A List-Id label: lower-case letters, digits and dashes (RFC 2919)."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", text.lower())).strip("-")[:60] or "list"


def to_mime(message: MailMessage, recipient: str) -> bytes:
    """The MIME bytes (multipart/alternative: text, then HTML) sent to one recipient, with the
    headers a mail client needs to file, thread and unsubscribe: List-Id per job (RFC 2919),
    List-Unsubscribe with one-click POST (RFC 8058; a mailto: form where no API is set),
    Auto-Submitted (RFC 3834), a Message-ID on the sender's domain, and In-Reply-To/References
    to one root per job and change, so a mail client threads its runs."""
    domain = message.sender.rsplit("@", 1)[-1].strip("> ") or "localhost"
    mime = EmailMessage()
    mime["Subject"] = message.subject
    mime["From"] = message.sender
    mime["To"] = recipient
    mime["Date"] = formatdate(usegmt=True)
    mime["Message-ID"] = make_msgid(idstring="citriage", domain=domain)
    mime["List-Id"] = f"{message.list_id} <{_label(message.list_id)}.citriage.{domain}>"
    mailto = f"<mailto:{message.sender}?subject=unsubscribe>"
    if message.unsubscribe_url:
        mime["List-Unsubscribe"] = f"<{message.unsubscribe_url}>, {mailto}"
        mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    else:
        mime["List-Unsubscribe"] = mailto
    mime["Auto-Submitted"] = "auto-generated"
    if message.thread:
        root = f"<thread.{hashlib.sha256(message.thread.encode()).hexdigest()[:24]}@{domain}>"
        mime["In-Reply-To"] = root
        mime["References"] = root
    mime["X-Citriage-Run"] = message.run_id
    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    return mime.as_bytes()
