"""Progress on stderr while a run's files are read: files, bytes and rate, drawn by tqdm, and
only when stderr is a terminal (a CI step's log gets no bars)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from citriage.cli.exits import printable

Progress = Callable[[str, int], None]


@contextmanager
def fetch_progress(enabled: bool) -> Iterator[Progress | None]:
    """A callback for FetchBudget.progress drawing a bar on stderr, or None when not shown."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from tqdm import tqdm  # noqa: PLC0415  # only a terminal session draws progress

    bar = tqdm(total=None, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, leave=False)
    files: set[str] = set()

    def update(name: str, size: int) -> None:
        if name not in files:
            files.add(name)
            bar.set_description(f"{len(files)} file{'s' if len(files) != 1 else ''}: {printable(name)[-40:]}")
        bar.update(size)

    try:
        yield update
    finally:
        bar.close()
