"""Signatures sites already have, translated to citriage's (docs/clusters.md#importing):

- **elastic-recheck**: a `queries/` directory of `<bug number>.yaml` files, each a Lucene `query` over
  logstash fields. `message:"…"` phrases become an RE2 pattern (case-insensitive, whitespace
  runs as `\\s+`, as the analysed field matched them): OR of phrases an alternation, AND of up
  to three phrases on one line their orders as alternatives. `filename:`/`tags:` become a files
  scope, `build_name:` a jobs scope; `build_status:"FAILURE"` is what citriage matches anyway.
- **Build Failure Analyzer**: its exported causes (JSON: a list of `{name, description,
  categories, indications: [{type: buildLog|multilineBuildLog, pattern}]}`, or the REST API's
  objects whose indications carry `@class`). A build-log indication's Java regex must match a
  whole line; a multi-line one is searched across lines. Java-only constructs (lookaround,
  backreferences, possessive and atomic groups, `\\p{javaX}`) cannot be RE2, and say so.

Nothing is dropped silently: what cannot be translated is listed with its reason. Every
translated pattern is compiled with the same checks as any signature.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from citriage.analyze.matching.compiled import compile_pattern
from citriage.errors import InvalidSignature
from citriage.models import IssueCategory, KnownIssue

MAX_QUERY_FILES = 5000
MAX_FILE_BYTES = 256 * 1024


class Untranslated(BaseModel):
    """A source entry that did not become a signature, and why."""

    source: str
    reason: str


class ImportResult(BaseModel):
    """What an import translated, and what it could not."""

    translated: list[KnownIssue] = Field(default_factory=list)
    untranslated: list[Untranslated] = Field(default_factory=list)


class Untranslatable(Exception):
    """One entry cannot be expressed as a citriage signature."""


# ---- elastic-recheck --------------------------------------------------------------------------

_TOKEN = re.compile(
    r'\s*(?:(?P<op>AND|OR|NOT|&&|\|\||\(|\)|-(?=\w))|(?:(?P<field>[\w.]+):)?(?P<value>"(?:[^"\\]|\\.)*"|[^\s()"]+))'
)
# Fields citriage has no scope for: a query restricted by one of them would be broader here.
_UNSCOPED = {
    "build_queue",
    "build_branch",
    "project",
    "build_change",
    "build_patchset",
    "node_provider",
    "loglevel",
}


def _tokens(query: str) -> list[tuple[str, str, str]]:
    found, position = [], 0
    while position < len(query):
        if query[position:].strip() == "":
            break
        match = _TOKEN.match(query, position)
        if match is None or match.end() == position:
            raise Untranslatable(f"cannot read the query at {query[position : position + 30]!r}")
        op, field, value = match.group("op"), match.group("field"), match.group("value")
        if op:
            found.append(("op", {"&&": "AND", "||": "OR", "-": "NOT"}.get(op, op), ""))
        else:  # a term without a field searches the default field, the log line
            found.append(("term", field or "message", value))
        position = match.end()
    return found


def _parse(tokens: list[tuple[str, str, str]]) -> Any:
    """Lucene's boolean structure: ("and"|"or", [...]), ("not", x), ("term", field, value)."""
    position = 0

    def expression() -> Any:
        nonlocal position
        terms = [conjunction()]
        while position < len(tokens) and tokens[position][:2] == ("op", "OR"):
            position += 1
            terms.append(conjunction())
        return terms[0] if len(terms) == 1 else ("or", terms)

    def conjunction() -> Any:
        nonlocal position
        terms = [unary()]
        while position < len(tokens) and not (
            tokens[position][0] == "op" and tokens[position][1] in ("OR", ")")
        ):
            if tokens[position][:2] == ("op", "AND"):
                position += 1
            terms.append(unary())
        return terms[0] if len(terms) == 1 else ("and", terms)

    def unary() -> Any:
        nonlocal position
        if position >= len(tokens):
            raise Untranslatable("the query ends where a term was expected")
        kind, a, b = tokens[position]
        position += 1
        if kind == "op" and a == "NOT":
            return ("not", unary())
        if kind == "op" and a == "(":
            inner = expression()
            if position >= len(tokens) or tokens[position][:2] != ("op", ")"):
                raise Untranslatable("unbalanced parentheses")
            position += 1
            return inner
        if kind == "op":
            raise Untranslatable(f"unexpected {a!r}")
        return ("term", a, b)

    tree = expression()
    if position != len(tokens):
        raise Untranslatable("unbalanced parentheses")
    return tree


def _phrase(value: str) -> str:
    text = value[1:-1].replace('\\"', '"') if value.startswith('"') else value
    if not text.strip():
        raise Untranslatable("an empty phrase")
    if not value.startswith('"') and any(c in text for c in "*?~/[]{}^"):
        raise Untranslatable(f"the term {text!r} uses Lucene wildcards, fuzziness or ranges")
    words = [re.escape(word) for word in text.split()]
    return r"\s+".join(words)


def _alternatives(node: Any, field: str) -> list[str]:
    """The values of one field in a term or an OR of terms (anything else is not a filter)."""
    if node[0] == "term" and node[1] == field:
        return [node[2]]
    if node[0] == "or" and all(t[0] == "term" and t[1] == field for t in node[1]):
        return [t[2] for t in node[1]]
    raise Untranslatable("a filter mixes fields or nests operators citriage cannot express")


def _message_pattern(clauses: list[Any]) -> str:
    """The pattern of the AND of message clauses, each a phrase or an OR of phrases."""
    groups = ["|".join(_phrase(v) for v in _alternatives(clause, "message")) for clause in clauses]
    if len(groups) > 3:
        raise Untranslatable(f"{len(groups)} message clauses AND-ed (one line holds at most 3 here)")
    parts = [f"(?:{g})" if "|" in g else g for g in groups]
    orders = [".*".join(order) for order in itertools.permutations(parts)]
    return "(?i)" + (orders[0] if len(orders) == 1 else "(?:" + "|".join(orders) + ")")


def translate_query(query: str) -> tuple[str, list[str], list[str]]:
    """An elastic-recheck query's (pattern, files, jobs); Untranslatable with the reason."""
    tree = _parse(_tokens(query))
    clauses = tree[1] if tree[0] == "and" else [tree]
    messages, files, jobs = [], [], []
    for clause in clauses:
        if clause[0] == "not":
            raise Untranslatable("NOT cannot be expressed in one RE2 pattern")
        fields = {clause[1]} if clause[0] == "term" else {t[1] for t in clause[1] if t[0] == "term"}
        if clause[0] == "and" or (clause[0] == "or" and any(t[0] != "term" for t in clause[1])):
            raise Untranslatable("nested AND/OR groups")
        field = fields.pop() if len(fields) == 1 else None
        if field == "message":
            messages.append(clause)
        elif field in ("filename", "tags"):
            files += [f"*{v.strip(chr(34))}*" for v in _alternatives(clause, field)]
        elif field == "build_name":
            jobs += [v.strip('"') for v in _alternatives(clause, field)]
        elif field == "build_status":
            if [v.strip('"').upper() for v in _alternatives(clause, field)] != ["FAILURE"]:
                raise Untranslatable("a build_status other than FAILURE")
        elif field in _UNSCOPED:
            raise Untranslatable(f"{field}: citriage has no scope for it, so the signature would be broader")
        else:
            raise Untranslatable(f"the field {field or 'of a mixed clause'!r} has no citriage equivalent")
    if not messages:
        raise Untranslatable("no message clause: a signature needs text to match")
    return _message_pattern(messages), files, jobs


def from_elastic_recheck(directory: Path) -> ImportResult:
    """The signatures of an elastic-recheck `queries/` directory (`<bug>.yaml` files)."""
    result = ImportResult()
    for path in sorted(directory.glob("*.yaml"))[:MAX_QUERY_FILES]:
        bug = path.stem
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise Untranslatable(f"over {MAX_FILE_BYTES} bytes")
            document = yaml.safe_load(path.read_text("utf-8"))
            query = document.get("query") if isinstance(document, dict) else None
            if not isinstance(query, str) or not query.strip():
                raise Untranslatable("no `query` string")
            pattern, files, jobs = translate_query(" ".join(query.split()))
            result.translated.append(
                _checked(
                    id=f"LP-{bug}" if bug.isdigit() else bug,
                    title=f"elastic-recheck query {path.name}",
                    bug_url=f"https://bugs.launchpad.net/bugs/{bug}"
                    if bug.isdigit()
                    else f"elastic-recheck:{bug}",
                    pattern=pattern,
                    files=files,
                    jobs=jobs,
                )
            )
        except (Untranslatable, InvalidSignature, yaml.YAMLError, ValidationError, UnicodeDecodeError) as exc:
            result.untranslated.append(Untranslated(source=path.name, reason=_reason(exc)))
    return result


# ---- Build Failure Analyzer -------------------------------------------------------------------

_JAVA_ONLY = [
    (re.compile(r"\(\?<?[=!]"), "lookaround"),
    (re.compile(r"\(\?>"), "an atomic group"),
    (re.compile(r"(?<!\\)\\[1-9]"), "a backreference"),
    (re.compile(r"(?<!\\)[*+?}]\+"), "a possessive quantifier"),
    (re.compile(r"\\p\{java"), "a \\p{java…} class"),
    (re.compile(r"\\[GZ]"), "a \\G or \\Z anchor"),
]
_URL = re.compile(r"https?://[^\s\"'<>]+")


def java_to_re2(pattern: str, whole_line: bool) -> str:
    """A BFA indication's Java regex as RE2 (whole-line for a build-log indication)."""
    for construct, what in _JAVA_ONLY:
        if construct.search(pattern):
            raise Untranslatable(f"its pattern uses {what}, which RE2 cannot run")
    return f"^(?:{pattern})$" if whole_line else pattern


def from_bfa(text: str) -> ImportResult:
    """The signatures of a Build Failure Analyzer export (JSON)."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        return ImportResult(untranslated=[Untranslated(source="export", reason=f"not JSON: {exc}")])
    causes = document if isinstance(document, list) else [document]
    result = ImportResult()
    for n, cause in enumerate(causes, 1):
        name = str(cause.get("name") or f"cause {n}") if isinstance(cause, dict) else f"cause {n}"
        indications = cause.get("indications") if isinstance(cause, dict) else None
        if not isinstance(indications, list) or not indications:
            result.untranslated.append(Untranslated(source=name, reason="no indications"))
            continue
        description = str(cause.get("description") or "")
        bug = _URL.search(description)
        categories = [str(c).lower() for c in cause.get("categories") or []]
        for i, indication in enumerate(indications, 1):
            source = name if len(indications) == 1 else f"{name} (indication {i})"
            try:
                kind = str(indication.get("type") or indication.get("@class") or "buildLog")
                multiline = "multiline" in kind.lower()
                if not multiline and "buildlog" not in kind.lower():
                    raise Untranslatable(
                        f"the indication type {kind!r} reads something other than the build log"
                    )
                pattern = java_to_re2(str(indication.get("pattern") or ""), whole_line=not multiline)
                slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:60] or "cause"
                result.translated.append(
                    _checked(
                        id=f"bfa-{slug}" + (f"-{i}" if len(indications) > 1 else ""),
                        title=name,
                        bug_url=bug.group() if bug else f"bfa:{name}",
                        pattern=pattern,
                        multiline=multiline,
                        category=IssueCategory.INFRA
                        if "infra" in " ".join(categories)
                        else IssueCategory.PRODUCT,
                    )
                )
            except (Untranslatable, InvalidSignature, ValidationError, AttributeError) as exc:
                result.untranslated.append(Untranslated(source=source, reason=_reason(exc)))
    return result


def _checked(**fields: Any) -> KnownIssue:
    issue = KnownIssue(**fields)
    compile_pattern(issue.pattern, multiline=issue.multiline)
    return issue


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
    return str(exc)
