"""Signatures read once per version: the table is listed again only when it changed."""

from citriage.known_issues.versioned import ReadOncePerVersion
from citriage.models import KnownIssue

from tests.unit.fakes import FakeList


class CountingSource(FakeList):
    def __init__(self, items):
        super().__init__(items)
        self.lists = 0
        self.problems: list[str] = []

    def list(self, problems=None):
        self.lists += 1
        if problems is not None:
            problems.extend(self.problems)
        return super().list(problems)


def issue(n: int) -> KnownIssue:
    return KnownIssue(id=f"LP-{n}", title="t", bug_url=f"https://bugs/{n}", pattern=f"error {n}")


def test_signatures_are_listed_again_only_when_their_version_moves():
    source = CountingSource([issue(1)])
    clock = [0.0]
    cached = ReadOncePerVersion(source, reread_seconds=900, clock=lambda: clock[0])
    # Given three analyses while nothing changes
    for _ in range(3):
        assert [i.id for i in cached.list([])] == ["LP-1"]
        clock[0] += 10
    # Then the source was listed once
    assert source.lists == 1
    # When a signature is added (the version moves), the next analysis sees it
    source.items.append(issue(2))
    assert [i.id for i in cached.list([])] == ["LP-1", "LP-2"]
    assert source.lists == 2


def test_an_edit_around_citriage_is_seen_after_the_reread_interval():
    # Given a source whose version does not move (an item edited in the console)
    source = CountingSource([issue(1)])
    source.version = lambda: "v1"  # type: ignore[method-assign]
    clock = [0.0]
    cached = ReadOncePerVersion(source, reread_seconds=900, clock=lambda: clock[0])
    cached.list([])
    source.items[0] = issue(9)
    clock[0] = 899
    assert [i.id for i in cached.list([])] == ["LP-1"]
    # Then after the interval it is read again
    clock[0] = 900
    assert [i.id for i in cached.list([])] == ["LP-9"]


def test_the_problems_of_the_last_read_are_said_at_every_analysis():
    source = CountingSource([issue(1)])
    source.problems = ["known issue LP-0 was skipped: bad pattern"]
    cached = ReadOncePerVersion(source, clock=lambda: 0.0)
    for _ in range(2):
        problems: list[str] = []
        cached.list(problems)
        assert problems == ["known issue LP-0 was skipped: bad pattern"]
    assert source.lists == 1


def test_ids_starting_with_a_hash_are_reserved_for_the_version_item():
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="pattern"):
        KnownIssue(id="#version", title="t", bug_url="https://bugs/1", pattern="x")
