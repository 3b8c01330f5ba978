"""Bug tracker URLs to API locations, and their answers to title and status (no network)."""

import pytest
from citriage.config import FetchSettings
from citriage.known_issues.bugs import BugInfo, BugLookupFailed, bug_api, lookup_bug, parse_bug


@pytest.mark.parametrize(
    ("url", "kind", "base", "path"),
    [
        (
            "https://bugs.launchpad.net/cinder/+bug/1929710",
            "launchpad",
            "https://api.launchpad.net/1.0/bugs/",
            "1929710",
        ),
        ("https://bugs.launchpad.net/+bug/42", "launchpad", "https://api.launchpad.net/1.0/bugs/", "42"),
        (
            "https://github.com/org/repo/issues/7",
            "github",
            "https://api.github.com/repos/org/repo/issues/",
            "7",
        ),
        (
            "https://bugzilla.suse.com/show_bug.cgi?id=1200",
            "bugzilla",
            "https://bugzilla.suse.com/rest/bug/",
            "1200",
        ),
        (
            "https://progress.opensuse.org/issues/99",
            "redmine",
            "https://progress.opensuse.org/issues/",
            "99.json",
        ),
    ],
)
def test_bug_urls_map_to_their_api(url, kind, base, path):
    api = bug_api(url)
    assert api is not None and (api.kind, api.base, api.path) == (kind, base, path)


def test_unknown_tracker_is_refused_without_a_request():
    assert bug_api("https://example.org/bugs?id=1") is None
    with pytest.raises(BugLookupFailed, match="not a Launchpad, GitHub, Bugzilla or Redmine bug URL"):
        lookup_bug("https://example.org/bugs?id=1", FetchSettings())


def test_answers_give_title_and_status():
    assert parse_bug("github", {"title": "Crash", "state": "open"}) == BugInfo("Crash", "open")
    assert parse_bug(
        "bugzilla", {"bugs": [{"summary": "Boot hangs", "status": "RESOLVED", "resolution": "FIXED"}]}
    ) == BugInfo("Boot hangs", "RESOLVED FIXED")
    assert parse_bug(
        "redmine", {"issue": {"subject": "Flaky", "status": {"name": "In Progress"}}}
    ) == BugInfo("Flaky", "In Progress")
    tasks = {"entries": [{"status": "Fix Released"}, {"status": "Triaged"}]}
    assert parse_bug("launchpad", {"title": "Attach"}, tasks) == BugInfo("Attach", "Fix Released, Triaged")


def test_an_odd_answer_fails_softly_with_the_reason():
    with pytest.raises(BugLookupFailed, match="unexpected github answer: missing 'state'"):
        parse_bug("github", {"title": "x"})
