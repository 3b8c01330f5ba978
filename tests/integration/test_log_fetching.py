"""Fetching logs over real HTTP from a local server: pinned addresses, directory-index
discovery, credentials that never follow a redirect to another host, retries."""

from __future__ import annotations

import functools
import gzip as gzip_module
import http.server
import shutil
import threading
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from citriage.analyze.locate import tree_location
from citriage.analyze.logs.fetch import HttpLogTree
from citriage.analyze.logs.policy import UrlPolicy
from citriage.analyze.logs.streams import FetchBudget
from citriage.analyze.matching.infra_rules import InfraRuleSet, load_builtin_rules
from citriage.analyze.pipeline import analyze_run
from citriage.config import FetchSettings
from citriage.errors import FetchFailed
from citriage.known_issues.signatures import SignatureSet
from citriage.models import RunEvent, Verdict

pytestmark = pytest.mark.integration
TREES = Path(__file__).resolve().parents[1] / "fixtures" / "trees"


class Recorder(http.server.SimpleHTTPRequestHandler):
    """Serves a directory (with Apache-like indexes), records each request, and answers
    a few special paths: /redirect-away, /flaky (503 until told otherwise)."""

    seen: list[tuple[str, str | None, str | None]]
    failures_left: list[int]
    forbidden: list[str]

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Host"), self.headers.get("Authorization")))
        if self.path in self.forbidden:
            self.send_error(403)
            return
        if self.path.endswith("/redirect-away"):
            self.send_response(302)
            self.send_header("Location", f"http://other.test:{self.server.server_address[1]}/landed")
            self.end_headers()
            return
        if self.path.endswith("/flaky") and self.failures_left[0] > 0:
            self.failures_left[0] -= 1
            self.send_error(503)
            return
        if self.path.endswith(("/landed", "/flaky")):
            body = b"ok\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # base class name
        return


@pytest.fixture
def log_server(tmp_path: Path) -> Iterator[tuple[str, Path, type[Recorder]]]:
    handler_class = type("Handler", (Recorder,), {"seen": [], "failures_left": [0], "forbidden": []})
    handler = functools.partial(handler_class, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{server.server_address[1]}", tmp_path, handler_class
    finally:
        server.shutdown()
        server.server_close()


def settings_for(port: str, **extra: object) -> FetchSettings:
    hosts = [f"http://logs.test:{port}", f"http://other.test:{port}"]
    return FetchSettings(log_hosts=hosts, allow_private_addresses=True, **extra)  # type: ignore[arg-type]


def test_connects_to_the_checked_address_with_the_name_in_host(log_server):
    # Given a log host name that only our resolver knows (real DNS cannot resolve it)
    port, root, handler = log_server
    (root / "job-output.txt").write_text("hello\n")
    answers = iter([["127.0.0.1"], ["127.0.0.1"], ["169.254.169.254"]])
    policy = UrlPolicy(settings_for(port), resolve=lambda host, p: next(answers))
    # When a file is fetched
    budget = FetchBudget(10**6, 10**6)
    tree = HttpLogTree(f"http://logs.test:{port}/", settings_for(port), budget, policy=policy)
    stream = tree.open("job-output.txt")
    # Then the connection went to the address that was checked, named by Host
    assert stream is not None and stream.read() == b"hello\n"
    assert handler.seen == [("/job-output.txt", f"logs.test:{port}", None)]


def test_credentials_never_follow_a_redirect_to_another_host(log_server):
    port, _root, handler = log_server
    policy = UrlPolicy(settings_for(port), resolve=lambda host, p: ["127.0.0.1"])
    tree = HttpLogTree(
        f"http://logs.test:{port}/",
        settings_for(port),
        FetchBudget(10**6, 10**6),
        policy=policy,
        headers={"Authorization": "Bearer secret"},
    )
    stream = tree.open("redirect-away")
    assert stream is not None and stream.read() == b"ok\n"
    assert handler.seen == [
        ("/redirect-away", f"logs.test:{port}", "Bearer secret"),
        ("/landed", f"other.test:{port}", None),
    ]


def test_5xx_is_retried_then_read(log_server):
    port, _root, handler = log_server
    handler.failures_left[0] = 2
    policy = UrlPolicy(settings_for(port), resolve=lambda host, p: ["127.0.0.1"])
    budget = FetchBudget(10**6, 10**6)
    tree = HttpLogTree(f"http://logs.test:{port}/", settings_for(port), budget, policy=policy, backoff=0.01)
    stream = tree.open("flaky")
    assert stream is not None and stream.read() == b"ok\n"
    assert [p for p, _, _ in handler.seen] == ["/flaky"] * 3


def test_logs_that_never_come_give_a_logs_unavailable_report(log_server):
    # Given a log server that answers 503 to everything for longer than the retries last
    port, _root, handler = log_server
    handler.failures_left[0] = 100
    settings = settings_for(port, retries=1)
    policy = UrlPolicy(settings, resolve=lambda host, p: ["127.0.0.1"])
    tree = HttpLogTree(f"http://logs.test:{port}/flaky", settings, FetchBudget(10**6, 10**6), policy=policy)
    with pytest.raises(FetchFailed, match="gave up after 2 attempts"):
        tree.open("flaky")


def test_tripleo_tree_found_through_apache_style_directory_indexes(log_server):
    # Given a TripleO tree on a server that lists directories (and has no zuul-manifest.json)
    port, root, handler = log_server
    shutil.copytree(TREES / "tripleo", root / "build")
    (root / "build" / "logs" / "undercloud" / "var" / "log" / "nova").mkdir()
    settings = FetchSettings(log_hosts=[f"http://127.0.0.1:{port}"], allow_private_addresses=True)
    tree = HttpLogTree(f"http://127.0.0.1:{port}/build/", settings, FetchBudget(10**7, 10**8))
    run = RunEvent(source="zuul", job="tripleo-ci", build_id="1", result="FAILURE", log_url=tree.root)
    # When the run is analyzed
    report = analyze_run(
        run, tree, SignatureSet([], datetime.now(UTC).date()), InfraRuleSet(load_builtin_rules())
    )
    # Then the results were found by listing, without probing every known path
    assert report.results_file == "logs/undercloud/var/log/tempest/tempest.xml.gz"
    assert report.tests.total == 5
    assert report.verdict is Verdict.FAILED_NEW
    fetched = [p for p, _, _ in handler.seen]
    assert "/build/logs/undercloud/var/log/tempest/" in fetched
    assert "/build/testrepository.subunit" not in fetched
    # The uninteresting directory was never listed.
    assert "/build/logs/undercloud/var/log/nova/" not in fetched


def analyze_remote(run: RunEvent, port: str, headers: dict[str, str] | None = None):
    """Analyze as the analyze function does: the tree rooted where the run's layout says."""
    settings = settings_for(port)
    policy = UrlPolicy(settings, resolve=lambda host, p: ["127.0.0.1"])
    tree = HttpLogTree(
        tree_location(run), settings, FetchBudget(10**7, 10**8), policy=policy, headers=headers
    )
    signatures = SignatureSet([], datetime.now(UTC).date())
    return analyze_run(run, tree, signatures, InfraRuleSet(load_builtin_rules()))


def test_jenkins_build_read_through_its_api_with_credentials(log_server):
    # Given a Jenkins build served at /job/shop/42/ that needs an API token
    port, root, handler = log_server
    shutil.copytree(TREES / "jenkins", root / "job" / "shop" / "42")
    run = RunEvent(
        source="jenkins",
        job="shop",
        build_id="42",
        result="UNSTABLE",
        log_url=f"http://logs.test:{port}/job/shop/42/",
    )
    # When it is analyzed with the token
    report = analyze_remote(run, port, headers={"Authorization": "Basic dG9rZW4="})
    # Then the test report was asked for its fields only, with the token, and read
    assert report.results_file == "testReport/api/json"
    assert (report.tests.total, report.tests.failed) == (5, 2)
    assert report.components["GIT_COMMIT"].startswith("3f2a9c1d")
    report_request = next(r for r in handler.seen if r[0].startswith("/job/shop/42/testReport/api/json"))
    assert "?tree=suites" in report_request[0]
    assert report_request[2] == "Basic dG9rZW4="


def test_openqa_job_read_through_the_details_api(log_server):
    # Given an openQA host serving /api/v1/jobs/4242/details, and a run naming /tests/4242
    port, root, handler = log_server
    shutil.copytree(TREES / "openqa", root, dirs_exist_ok=True)
    run = RunEvent(
        source="openqa",
        job="textmode",
        build_id="4242",
        result="incomplete",
        log_url=f"http://logs.test:{port}/tests/4242",
    )
    # When it is analyzed
    report = analyze_remote(run, port)
    # Then the details API was read and the incomplete job is an infrastructure verdict
    assert "/api/v1/jobs/4242/details" in [p for p, _, _ in handler.seen]
    assert report.verdict is Verdict.INFRA
    assert report.tests.total == 4
    assert "backend died" in report.infra[0].excerpt


def test_content_encoding_gzip_bomb_is_inflated_under_the_cap(log_server, tmp_path):
    # Given a server that sends a small body with Content-Encoding: gzip inflating to 64 MiB
    bomb = gzip_module.compress(b"A" * (64 * 1024 * 1024), 9)

    class BombHandler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(bomb)))
            self.end_headers()
            self.wfile.write(bomb)

        def log_message(self, format: str, *args: object) -> None:  # base class name
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), BombHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = str(server.server_address[1])
        settings = settings_for(port)
        policy = UrlPolicy(settings, resolve=lambda host, p: ["127.0.0.1"])
        budget = FetchBudget(1024 * 1024, 10 * 1024 * 1024)
        tree = HttpLogTree(f"http://logs.test:{port}/", settings, budget, policy=policy)
        # When the file is read to the end
        tracemalloc.start()
        stream = tree.open("job-output.txt")
        assert stream is not None
        data = stream.read()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        server.shutdown()
        server.server_close()
    # Then only the capped part was inflated (never the whole 64 MiB), and the note says so
    assert peak < 16 * 1024 * 1024
    assert len(data) == 1024 * 1024
    assert set(data) == {ord("A")}
    assert any("job-output.txt" in n and "first 1 MiB" in n for n in budget.notes)


def test_a_forbidden_file_is_skipped_with_a_note_and_the_rest_is_read(log_server):
    # Given a tree whose zuul-manifest.json the server refuses (403), results at the top level
    port, root, handler = log_server
    (root / "b").mkdir()
    shutil.copyfile(TREES.parent / "results" / "tempest.subunit", root / "b" / "testrepository.subunit")
    (root / "b" / "zuul-manifest.json").write_text("{}")
    handler.forbidden.append("/b/zuul-manifest.json")
    run = RunEvent(
        source="zuul", job="tempest", build_id="1", result="FAILURE", log_url=f"http://logs.test:{port}/b/"
    )
    # When analyzed
    report = analyze_remote(run, port)
    # Then the refusal is a note, not the end of the analysis
    assert any("zuul-manifest.json" in n and "HTTP 403" in n for n in report.notes)
    assert report.tests.total == 5
    assert report.verdict is Verdict.FAILED_NEW


def test_a_retry_connects_to_the_next_checked_address(log_server):
    # Given a host with two checked addresses, the first of which refuses connections
    port, root, handler = log_server
    (root / "job-output.txt").write_text("hello\n")
    settings = settings_for(port)
    policy = UrlPolicy(settings, resolve=lambda host, p: ["127.0.0.2", "127.0.0.1"])
    budget = FetchBudget(10**6, 10**6)
    tree = HttpLogTree(f"http://logs.test:{port}/", settings, budget, policy=policy, backoff=0.01)
    # When the file is fetched
    stream = tree.open("job-output.txt")
    # Then the retry went to the second address and the file was read
    assert stream is not None and stream.read() == b"hello\n"
    assert [p for p, _, _ in handler.seen] == ["/job-output.txt"]
