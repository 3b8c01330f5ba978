"""Clusters of new failures across runs (docs/clusters.md): failures whose exception lines differ
only in ids, addresses, ports, numbers, paths and times, and the signature one proposes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ClusterMember(BaseModel):
    """One failure of a cluster."""

    run: str = Field(description="The run's id")
    job: str
    test_id: str
    message: str = Field(description="The failure's exception line, as the run reported it")
    change: str | None = Field(default=None, description="The change the run tested, if any")
    when: datetime | None = Field(default=None, description="When the run was analysed")


class Cluster(BaseModel):
    """New failures with one normalised exception line."""

    id: str = Field(description="`c-` and 12 hex digits of the normalised line's SHA-256: stable across runs")
    normalised: str = Field(description="The exception line with its variable parts as placeholders")
    sample: str = Field(description="One member's message as it was")
    runs: int
    jobs: int
    first_seen: datetime | None = None
    members: list[ClusterMember] = Field(default_factory=list)


class ProposalReplay(BaseModel):
    """What a proposed pattern hits."""

    cluster_hits: int = Field(description="Members of the cluster whose message it matches")
    cluster_size: int
    other_failures: list[str] = Field(
        default_factory=list, description="Other failures it matches: run and test"
    )
    passing_lines: list[str] = Field(
        default_factory=list, description="Lines of passing runs it matches: run, file and line"
    )
    passing_runs: int = Field(default=0, description="Passing runs whose text it was replayed on")
    lines_checked: int = Field(default=0, description="Lines of those runs it was replayed on")


class Proposal(BaseModel):
    """An RE2 pattern proposed for a cluster, with its replay."""

    cluster: str
    pattern: str
    good: bool = Field(description="It matches every member, and no other failure and no passing run's line")
    why: str = Field(description="Why it is good, or why not")
    replay: ProposalReplay
