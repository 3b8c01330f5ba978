"""A run's test results, tallied as the readers stream them: memory independent of the test count.

Readers hand every result to the `FileTally` of the file they read. Per test it keeps what the
merge of several files needs: a 16-byte key and the status. Failures are kept whole while there
are fewer than `MAX_FULL_FAILURES` of them and their texts fit `MAX_FULL_TEXT`; every later one
is judged by its own text as it arrives (failure-1 and failure-2 of docs/classification.md, the
only rules that read the text) and kept as a `CompactFailure`: id, status, exception line and
that judgement. The rules that need the whole run (failure-3, failure-4) are applied to both
kinds alike once the logs are read, so a failure's classification never depends on how it was
kept. A job that fails a million tests costs a few hundred bytes per test, not a report each.

The merge is that of several streams of one job (workers, stestr runs and re-runs, a partial
stream of a run that was cut off): one result per test and environment; within one environment
a finished result beats an interrupted one, and among finished results the later file wins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from citriage.analyze.environments import file_environments
from citriage.models import Classification, KnownIssueRef, TestCounts, TestResult, TestStatus

# Failures kept whole (text, output) across a run's result files; the rest are kept compact.
MAX_FULL_FAILURES = 500
# ... and while their texts add up to no more than this many characters.
MAX_FULL_TEXT = 32 * 1024 * 1024
# A compact failure's exception line, at most.
MAX_COMPACT_MESSAGE = 300
_FAILED = (TestStatus.FAILED, TestStatus.INTERRUPTED)


@dataclass(frozen=True, slots=True)
class TextJudgement:
    """What a failure's own text says (failure-1 or failure-2), shared by all failures it fits."""

    classification: Classification
    matched_by: str
    rule: str
    known_issue: KnownIssueRef | None = None


# Judges a failure's text; None when no signature or infrastructure rule matches it.
TextJudge = Callable[[TestResult], TextJudgement | None]


@dataclass(slots=True)
class CompactFailure:
    """A failure past the ones kept whole: enough to classify, count and group it."""

    test_id: str
    status: TestStatus
    message: str | None
    judged: TextJudgement | None
    env: str | None = None


Entry = TestStatus | TestResult | CompactFailure


def _status(entry: Entry) -> TestStatus:
    return entry if isinstance(entry, TestStatus) else entry.status


def _replaces(seen: Entry | None, status: TestStatus) -> bool:
    """Whether a later result with `status` replaces what was seen of the same test."""
    return seen is None or _status(seen) is TestStatus.INTERRUPTED or status is not TestStatus.INTERRUPTED


def _key(test_id: str) -> bytes:
    # 128 bits: two of a run's tests colliding is as likely as never.
    return hashlib.blake2b(test_id.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _text_size(result: TestResult) -> int:
    return len(result.details) + sum(len(t) for t in result.output.values())


@dataclass
class ResultsRead:
    """A run's results after the merge: counts, the failures kept whole (in reading order), the
    compact rest, and the files they came from."""

    tests: TestCounts = field(default_factory=TestCounts)
    failed: list[TestResult] = field(default_factory=list)
    compact: list[CompactFailure] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        """Whether any test result was read."""
        return self.tests.total > 0


class ResultTally:
    """The results of one result kind across its files; `file()` gives each file its sink."""

    def __init__(self, judge: TextJudge | None = None) -> None:
        self._judge = judge
        self._files: list[tuple[str, FileTally]] = []
        self._full = 0
        self._full_text = 0
        self._messages: dict[str, str] = {}

    def file(self, name: str) -> FileTally:
        """The sink for one file's results."""
        sink = FileTally(self)
        self._files.append((name, sink))
        return sink

    def _entry(self, result: TestResult) -> Entry:
        if result.status not in _FAILED:
            return result.status
        size = _text_size(result)
        if self._full < MAX_FULL_FAILURES and self._full_text + size <= MAX_FULL_TEXT:
            self._full += 1
            self._full_text += size
            return result
        message = (result.message or "")[:MAX_COMPACT_MESSAGE] or None
        if message is not None:
            # A mass failure repeats one message: keep one copy of it.
            message = self._messages.setdefault(message, message)
        judged = self._judge(result) if self._judge else None
        return CompactFailure(result.test_id, result.status, message, judged)

    def _released(self, entry: Entry) -> None:
        if isinstance(entry, TestResult):
            self._full -= 1
            self._full_text -= _text_size(entry)

    def settle(self) -> ResultsRead:
        """Merge the files that gave results, each in the environment its place or name says."""
        kept = [(name, sink) for name, sink in self._files if sink.count]
        if not kept:
            return ResultsRead()
        names = [name for name, _ in kept]
        environments = file_environments(names, [sink.suites for _, sink in kept])
        merged: dict[str | None, dict[bytes, Entry]] = {}
        for (_, sink), env in zip(kept, environments, strict=True):
            target = merged.get(env)
            if target is None:
                merged[env] = target = sink.entries
            else:
                for key, entry in sink.entries.items():
                    if _replaces(target.get(key), _status(entry)):
                        target[key] = entry
            sink.entries = {}
        read = ResultsRead(files=names)
        for env, entries in merged.items():
            _collect(entries.values(), env, read)
        return read


def _collect(entries: Iterable[Entry], env: str | None, read: ResultsRead) -> None:
    counts = read.tests
    for entry in entries:
        counts.total += 1
        if entry is TestStatus.PASSED:
            counts.passed += 1
        elif entry is TestStatus.SKIPPED:
            counts.skipped += 1
        elif isinstance(entry, TestResult):
            counts.failed += 1
            entry.env = env
            read.failed.append(entry)
        elif isinstance(entry, CompactFailure):
            counts.failed += 1
            entry.env = env
            read.compact.append(entry)


class FileTally:
    """One result file's results as its reader parses them."""

    def __init__(self, tally: ResultTally) -> None:
        self._tally = tally
        self.entries: dict[bytes, Entry] = {}
        self.count = 0
        # The JUnit suite names the file's results carried; two tell that it has several.
        self.suites: set[str] = set()

    def add(self, result: TestResult) -> None:
        """Take one parsed result (a later result of the same test follows the merge rule)."""
        self.count += 1
        if result.env and len(self.suites) < 2:
            self.suites.add(result.env)
        key = _key(result.test_id)
        seen = self.entries.get(key)
        if not _replaces(seen, result.status):
            return
        if seen is not None:
            self._tally._released(seen)
        self.entries[key] = self._tally._entry(result)


def tally_of(
    files: Iterable[tuple[str, Iterable[TestResult]]], judge: TextJudge | None = None
) -> ResultsRead:
    """The merged results of files given by name with their results, in reading order (results
    read whole first: the console's tempest results)."""
    tally = ResultTally(judge)
    for name, results in files:
        sink = tally.file(name)
        for result in results:
            sink.add(result)
    return tally.settle()
