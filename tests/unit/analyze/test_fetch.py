"""Log fetching that cannot be abused: URL policy, path escapes, byte caps, gzip bombs."""

import gzip
import io
import re

import pytest
import requests
from citriage.analyze.logs.fetch import LocalLogTree, open_first, open_log_tree
from citriage.analyze.logs.policy import PinnedAdapter, UrlPolicy
from citriage.analyze.logs.streams import FetchBudget, iter_lines
from citriage.config import FetchSettings
from citriage.errors import FetchRefused


def policy(hosts, addresses, allow_private=False):
    settings = FetchSettings(log_hosts=hosts, allow_private_addresses=allow_private)
    return UrlPolicy(settings, resolve=lambda host, port: addresses)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://169.254.169.254/latest/meta-data/", "not a configured log host"),
        ("https://evil.example.com/logs/", "not a configured log host"),
        ("http://logs.example.org/x/", "plain http is not allowed"),
        ("ftp://logs.example.org/x/", "only http(s)"),
        ("file:///etc/passwd", "only http(s)"),
    ],
)
def test_policy_refuses_with_reason(url, reason):
    with pytest.raises(FetchRefused, match=re.escape(reason)):
        policy(["logs.example.org"], ["93.184.216.34"]).check(url)


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "10.0.0.5", "127.0.0.1", "192.168.1.1", "::1", "fd00::1"]
)
def test_policy_refuses_allowed_host_resolving_to_non_public_address(address):
    with pytest.raises(FetchRefused, match="non-public address"):
        policy(["logs.example.org"], [address]).check("https://logs.example.org/job/")


def test_policy_allows_configured_public_host_and_explicit_http_entry():
    policy(["logs.example.org"], ["93.184.216.34"]).check("https://logs.example.org/job/")
    policy(["http://127.0.0.1:8081"], ["127.0.0.1"], allow_private=True).check("http://127.0.0.1:8081/t/")


def test_webhook_log_url_cannot_name_a_local_path(tmp_path):
    with pytest.raises(FetchRefused):
        open_log_tree(str(tmp_path), FetchSettings())


def test_local_tree_refuses_paths_out_of_the_tree(tmp_path):
    (tmp_path / "tree").mkdir()
    (tmp_path / "secret.txt").write_text("no")
    tree = LocalLogTree(tmp_path / "tree", FetchBudget(1000, 1000))
    # ".." is clamped at the tree's root: the file outside is never reached.
    assert tree.open("../secret.txt") is None
    (tmp_path / "tree" / "link").symlink_to(tmp_path / "secret.txt")
    assert tree.open("link") is None


def test_gz_variant_is_found_and_inflated(tmp_path):
    (tmp_path / "job-output.txt.gz").write_bytes(gzip.compress(b"line one\nline two\n"))
    tree = LocalLogTree(tmp_path, FetchBudget(10_000, 10_000))
    found = open_first(tree, ["job-output.txt"])
    assert found is not None
    name, stream = found
    assert name == "job-output.txt.gz"
    assert list(iter_lines(stream)) == ["line one", "line two"]


def test_gzip_bomb_is_cut_at_the_cap_with_a_note(tmp_path):
    # 64 MiB of zeros compresses to ~64 KiB; the cap is 1 MiB of inflated bytes.
    (tmp_path / "bomb.txt.gz").write_bytes(gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9))
    budget = FetchBudget(max_file_bytes=1024 * 1024, remaining_run_bytes=10 * 1024 * 1024)
    stream = LocalLogTree(tmp_path, budget).open("bomb.txt.gz")
    assert stream is not None
    assert len(stream.read()) == 1024 * 1024
    assert any("bomb.txt.gz" in n and "first 1 MiB" in n for n in budget.notes)


def test_truncated_gzip_keeps_what_was_read(tmp_path):
    data = gzip.compress(b"".join(b"line %d\n" % i for i in range(20000)))
    (tmp_path / "cut.txt.gz").write_bytes(data[: len(data) // 2])
    budget = FetchBudget(10**8, 10**8)
    stream = LocalLogTree(tmp_path, budget).open("cut.txt.gz")
    assert stream is not None
    lines = list(iter_lines(stream))
    assert lines[0] == "line 0" and 100 < len(lines) < 20000
    assert any("truncated" in n for n in budget.notes)


def test_long_lines_are_split_and_bad_utf8_replaced():
    lines = list(iter_lines(io.BufferedReader(io.BytesIO(b"a" * 200_000 + b"\n\xff\xfeok\n"))))
    assert len(lines) == 5
    assert lines[-1] == "\ufffd\ufffdok"


def test_pinned_adapter_never_resolves_a_host_it_was_not_given():
    # Given a pinning adapter that was told nothing about evil.example.com
    adapter = PinnedAdapter()
    adapter.pin("logs.example.org", 443, "93.184.216.34")
    pinned = requests.Request("GET", "https://logs.example.org/x").prepare()
    unpinned = requests.Request("GET", "https://evil.example.com/x").prepare()
    # When connection pools are chosen
    host_params, pool_kwargs = adapter.build_connection_pool_key_attributes(pinned, True)
    # Then the pinned one connects to the checked address, with the name for SNI and the cert
    assert host_params["host"] == "93.184.216.34"
    assert pool_kwargs["server_hostname"] == "logs.example.org"
    assert pool_kwargs["assert_hostname"] == "logs.example.org"
    # And the other is refused rather than resolved again
    with pytest.raises(FetchRefused, match="no checked address"):
        adapter.build_connection_pool_key_attributes(unpinned, True)


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::7f00:1",
        "64:ff9b::a00:1",
        "2002:7f00:1::",
        "2002:a9fe:a9fe::",
        "::ffff:127.0.0.1",
        "::127.0.0.1",
    ],
)
def test_ipv6_forms_of_private_ipv4_addresses_are_refused(address):
    # Given an allowed host whose name resolves to an IPv6 address carrying a private IPv4 one
    policy = UrlPolicy(FetchSettings(log_hosts=["logs.example.org"]), resolve=lambda host, port: [address])
    # Then it is refused like the IPv4 address itself
    with pytest.raises(FetchRefused, match="non-public address"):
        policy.check("https://logs.example.org/x/")


def test_a_public_nat64_address_is_allowed():
    policy = UrlPolicy(
        FetchSettings(log_hosts=["logs.example.org"]), resolve=lambda h, p: ["64:ff9b::808:808"]
    )
    assert policy.check("https://logs.example.org/x/") == ["64:ff9b::808:808"]


def test_credentials_in_a_run_url_are_never_kept_or_echoed():
    from citriage.models import RunEvent

    run = RunEvent(
        source="generic",
        job="j",
        build_id="1",
        log_url="https://ci:s3cret@logs.example.org/b/1/",
        web_url="http://u:p@ci.example.org/job/1",
    )
    assert run.log_url == "https://logs.example.org/b/1/" and run.web_url == "http://ci.example.org/job/1"
    assert "s3cret" not in run.model_dump_json()
    # And a URL met later (a redirect's Location) is echoed without them
    policy = UrlPolicy(FetchSettings(log_hosts=["logs.example.org"]), resolve=lambda h, p: ["8.8.8.8"])
    with pytest.raises(FetchRefused) as refused:
        policy.check("https://admin:hunter2@other.example.org/x/")
    assert "hunter2" not in str(refused.value) and "other.example.org" in str(refused.value)
