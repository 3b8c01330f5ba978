"""Listing a log tree's files where the server can say: Zuul's zuul-manifest.json, or directory
indexes (Apache autoindex, Swift listings), within bounds on bytes, depth and count."""

from __future__ import annotations

import json
import re
from typing import BinaryIO
from urllib.parse import unquote

from citriage.errors import FetchDenied
from citriage.ports import LogTree

MAX_INDEX_BYTES = 2 * 1024 * 1024


MAX_MANIFEST_BYTES = 16 * 1024 * 1024


MAX_LISTINGS = 40


MAX_FILES = 100_000


MAX_DEPTH = 8


def manifest_paths(tree: LogTree, notes: list[str]) -> list[str] | None:
    """Every file named by Zuul's `zuul-manifest.json`, or None when there is none."""
    stream = try_open(tree, "zuul-manifest.json", notes)
    if stream is None:
        return None
    with stream:
        data = stream.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        notes.append("zuul-manifest.json is too large to read; looked for files another way.")
        return None
    try:
        manifest = json.loads(data)
    except (ValueError, RecursionError):
        notes.append("zuul-manifest.json is not valid JSON; looked for files another way.")
        return None
    paths: list[str] = []
    top = manifest.get("tree") if isinstance(manifest, dict) else None
    stack: list[tuple[str, object, int]] = [("", top, 0)]
    while stack and len(paths) < MAX_FILES:
        prefix, entries, depth = stack.pop()
        if not isinstance(entries, list) or depth > MAX_DEPTH * 2:
            continue
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
                continue
            path = f"{prefix}{entry['name']}"
            if isinstance(entry.get("children"), list):
                stack.append((f"{path}/", entry["children"], depth + 1))
            else:
                paths.append(path)
    return paths


_HREF = re.compile(rb"""<a\s[^>]*?href\s*=\s*["']([^"'#?]+)["']""", re.IGNORECASE)


# Directories worth listing below the top level (whose children are all looked at).
_INTERESTING_DIRS = frozenset(
    {"logs", "undercloud", "var", "log", "tempest", ".stestr", "zuul-info", "extra", "controller", "primary"}
)


def _index_entries(tree: LogTree, directory: str, notes: list[str]) -> list[str] | None:
    """Names in a directory index page (`name` or `name/` for a directory); None if no index."""
    stream = try_open(tree, directory, notes)
    if stream is None:
        return None
    with stream:
        page = stream.read(MAX_INDEX_BYTES)
    if b"<" not in page[:4096]:
        return None
    entries: list[str] = []
    for raw in _HREF.findall(page):
        href = unquote(raw.decode("utf-8", "replace"))
        if "://" in href or href.startswith(("/", "..", ".?")) or href in ("./", "."):
            continue
        if href.count("/") > 1 or (href.count("/") == 1 and not href.endswith("/")):
            continue
        entries.append(href)
    return entries


def index_paths(tree: LogTree, notes: list[str]) -> list[str] | None:
    """Files found by walking directory indexes (Apache autoindex, Swift listings), or None."""
    if not tree.root.startswith(("http://", "https://")):
        return None
    top = _index_entries(tree, "", notes)
    if not top:
        return None
    paths: list[str] = []
    queue: list[tuple[str, list[str], int]] = [("", top, 0)]
    listings = 1
    while queue:
        prefix, entries, depth = queue.pop(0)
        for entry in entries:
            if not entry.endswith("/"):
                paths.append(prefix + entry)
                continue
            name = entry.rstrip("/")
            # Every top-level directory (node names vary); below that, only the known ones.
            if (depth == 0 or name in _INTERESTING_DIRS) and depth < MAX_DEPTH and listings < MAX_LISTINGS:
                listings += 1
                below = _index_entries(tree, f"{prefix}{entry}", notes)
                if below:
                    queue.append((f"{prefix}{entry}", below, depth + 1))
    if listings >= MAX_LISTINGS:
        notes.append(f"Stopped listing directories after {MAX_LISTINGS} indexes; some results may be missed.")
    return paths


def try_open(tree: LogTree, path: str, notes: list[str], tail_bytes: int = 0) -> BinaryIO | None:
    """Open a file; a file the server refuses (HTTP 4xx) is noted and skipped."""
    try:
        return tree.open(path, tail_bytes)
    except FetchDenied as exc:
        notes.append(f"Skipped {path or 'the index'}: {exc}.")
        return None
