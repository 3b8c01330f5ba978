"""New failures of many runs grouped into clusters by their normalised exception line, and the
RE2 signature a cluster proposes, replayed before it is offered (elastic-recheck's rule: a
signature that hits a passing run, or another cluster, is not a good one)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from citriage.analyze.matching.compiled import compile_pattern
from citriage.clusters.normalize import cluster_id, exception_line, normalise, to_pattern
from citriage.errors import InvalidSignature
from citriage.models import Classification, RunReport
from citriage.models.cluster import Cluster, ClusterMember, Proposal, ProposalReplay
from citriage.models.report import ClusterRef

# Listed at most in a replay; the counts are complete.
MAX_LISTED = 20


def cluster_members(reports: Iterable[RunReport]) -> Iterable[tuple[str, ClusterMember]]:
    """Each new failure with an exception line, as (its normalised line, the member)."""
    for report in reports:
        for failure in report.failures_by(Classification.NEW):
            line = exception_line(failure.message, failure.details)
            if not line:
                continue
            member = ClusterMember(
                run=report.run_id,
                job=report.run.job,
                test_id=failure.test_id,
                message=line,
                change=report.run.change,
                when=report.analyzed_at,
            )
            yield normalise(line), member


def clusters_of(reports: Sequence[RunReport]) -> list[Cluster]:
    """The clusters of the reports' new failures, biggest first (then by id)."""
    grouped: dict[str, list[ClusterMember]] = {}
    for normalised, member in cluster_members(reports):
        grouped.setdefault(normalised, []).append(member)
    clusters = [cluster_of(normalised, members) for normalised, members in grouped.items()]
    return sorted(clusters, key=lambda c: (-len(c.members), c.id))


def with_clusters(report: RunReport, stored: Callable[[str], Cluster | None]) -> RunReport:
    """The report with each new failure's cluster counted: the runs and jobs `stored` has of it
    (the newest ones kept), and this run."""
    found: dict[str, ClusterRef] = {}
    failures = []
    for failure in report.failures:
        line = (
            exception_line(failure.message, failure.details)
            if failure.classification is Classification.NEW
            else ""
        )
        if not line:
            failures.append(failure)
            continue
        cid = cluster_id(normalise(line))
        if cid not in found:
            kept = stored(cid)
            members = [m for m in (kept.members if kept else []) if m.run != report.run_id]
            whens = [m.when for m in members if m.when] + [report.analyzed_at]
            found[cid] = ClusterRef(
                id=cid,
                runs=len({m.run for m in members}) + 1,
                jobs=len({m.job for m in members} | {report.run.job}),
                changes=len({m.change for m in members if m.change} | ({report.run.change} - {None})),
                first_seen=min(whens),
            )
        failures.append(failure.model_copy(update={"cluster": found[cid]}))
    return report.model_copy(update={"failures": failures})


def cluster_of(normalised: str, members: list[ClusterMember]) -> Cluster:
    """The cluster of members sharing one normalised line."""
    return Cluster(
        id=cluster_id(normalised),
        normalised=normalised,
        sample=members[0].message,
        runs=len({m.run for m in members}),
        jobs=len({m.job for m in members}),
        first_seen=min((m.when for m in members if m.when), default=None),
        members=members,
    )


def propose(
    cluster: Cluster, others: Sequence[Cluster], passing: Iterable[tuple[str, str, int, str]]
) -> Proposal:
    """The cluster's pattern and its replay: every member's message, every other cluster's, and
    each line of the passing runs' text (`(run, file, line number, line)`)."""
    pattern = to_pattern(cluster.normalised)
    try:
        regex = compile_pattern(pattern)
    except InvalidSignature as exc:
        replay = ProposalReplay(cluster_hits=0, cluster_size=len(cluster.members))
        return Proposal(cluster=cluster.id, pattern=pattern, good=False, why=str(exc), replay=replay)
    hits = sum(1 for m in cluster.members if regex.search(m.message.encode("utf-8")))
    other_hits = [
        f"{m.run} {m.test_id}" for other in others if other.id != cluster.id for m in other.members
        if regex.search(m.message.encode("utf-8"))
    ]  # fmt: skip
    passing_hits: list[str] = []
    passing_count = checked = 0
    runs: set[str] = set()
    for run, path, number, line in passing:
        checked += 1
        runs.add(run)
        if regex.search(line.encode("utf-8", "replace")):
            passing_count += 1
            if len(passing_hits) < MAX_LISTED:
                passing_hits.append(f"{run} {path}:{number}: {line[:200]}")
    replay = ProposalReplay(
        cluster_hits=hits,
        cluster_size=len(cluster.members),
        other_failures=other_hits[:MAX_LISTED],
        passing_lines=passing_hits,
        passing_runs=len(runs),
        lines_checked=checked,
    )
    if hits < len(cluster.members):
        why = f"it matches {hits} of the cluster's {len(cluster.members)} failures"
    elif other_hits:
        why = f"it also matches {len(other_hits)} failure(s) of other clusters"
    elif passing_count:
        why = f"it matches {passing_count} line(s) of passing runs"
    else:
        why = f"it matches all {hits} failures of the cluster, no other failure and no line of a passing run"
    good = hits == len(cluster.members) and not other_hits and not passing_count
    return Proposal(cluster=cluster.id, pattern=pattern, good=good, why=why, replay=replay)
