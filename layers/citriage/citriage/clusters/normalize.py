"""An exception line with its variable parts as placeholders, so that failures differing only in
ids, addresses, ports, numbers, temporary paths and times share one line (and one cluster).

Only the exception line is normalised (the failure's `message`, or, without one, the last line
of its traceback that is not a frame): frames, file names and the test's class are boilerplate
that unrelated failures share. The patterns are linear (no nested repetition), and the line is
cut to MAX_LINE characters before any of them runs.
"""

from __future__ import annotations

import hashlib
import re

MAX_LINE = 2000

# (placeholder, what it replaces, the bounded RE2 class a proposed pattern uses for it), in the
# order they are applied: the longest and most specific first.
PLACEHOLDERS: list[tuple[str, re.Pattern[str], str]] = [
    (
        "<time>",
        re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?"),
        r"[0-9][0-9:.,TZ +-]{9,38}",
    ),
    (
        "<uuid>",
        re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
        r"[0-9a-fA-F-]{36}",
    ),
    # A temporary path, up to a space, quote, bracket, comma, semicolon or colon.
    ("<tmp>", re.compile(r"/(?:var/)?tmp/[^\s'\"(),;:]{1,300}"), r"/[^\s'\"(),;:]{1,300}"),
    # IPv4, then IPv6 (compressed `::` too): one placeholder, one class that takes either.
    ("<ip>", re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), r"[0-9a-fA-F:.]{2,45}"),
    (
        "<ip>",
        re.compile(r"(?<![\w:])(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{1,4}(?![\w:])"),
        r"[0-9a-fA-F:.]{2,45}",
    ),
    ("<port>", re.compile(r"(?<=<ip>:)\d{1,5}\b|(?<=[A-Za-z]):\d{2,5}\b"), r"[0-9]{1,5}"),
    ("<hex>", re.compile(r"\b(?:0x)?(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,64}\b"), r"(?:0x)?[0-9a-fA-F]{8,64}"),
    # A number, also with a unit after it (30s, 512MiB), never part of a name (test1, v2).
    ("<num>", re.compile(r"(?<![A-Za-z0-9_.])\d+(?:\.\d+)?"), r"[0-9]{1,20}(?:\.[0-9]{1,20})?"),
]
CLASSES = {name: cls for name, _, cls in PLACEHOLDERS}
_TOKEN = re.compile("|".join(re.escape(name) for name in CLASSES))
_FRAME = re.compile(r'^\s*(?:File "|at |Traceback|\.\.\.|\^)')


def exception_line(message: str | None, details: str) -> str:
    """The line a failure is clustered by: its message, else its traceback's last non-frame line."""
    if message and message.strip():
        return message.strip()[:MAX_LINE]
    for line in reversed(details[-64 * 1024 :].splitlines()):
        if line.strip() and not _FRAME.match(line):
            return line.strip()[:MAX_LINE]
    return ""


def normalise(line: str) -> str:
    """The line with its variable parts replaced by placeholders."""
    text = line[:MAX_LINE]
    for name, pattern, _ in PLACEHOLDERS:
        if name == "<port>":
            text = pattern.sub(lambda m: (":" if m.group().startswith(":") else "") + "<port>", text)
        else:
            text = pattern.sub(name, text)
    return text


def cluster_id(normalised: str) -> str:
    """A cluster's stable id: the same normalised line, the same id, in any run, job or CI."""
    return "c-" + hashlib.sha256(normalised.encode("utf-8")).hexdigest()[:12]


_RE2_SPECIAL = set("\\.^$*+?()[]{}|-/")


def to_pattern(normalised: str) -> str:
    """An RE2 pattern for a normalised line: its literal text escaped, each placeholder a bounded
    class (so it matches every line the placeholder stood for, and little else)."""
    parts: list[str] = []
    last = 0
    for token in _TOKEN.finditer(normalised):
        parts.append(_escape(normalised[last : token.start()]))
        parts.append(CLASSES[token.group()])
        last = token.end()
    parts.append(_escape(normalised[last:]))
    return "".join(parts)


def _escape(text: str) -> str:
    return "".join("\\" + c if c in _RE2_SPECIAL else c for c in text)
