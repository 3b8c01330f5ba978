"""A log tree inside an uploaded tar.gz (`citriage submit`, docs/in-job.md): read in place, never
extracted, so nothing an archive holds is ever written anywhere.

The members are indexed once, in order, with bounds that hold before any member's data is read:

- only regular files are kept; links (a symlink to /etc/passwd), hard links, devices, FIFOs and
  directories are listed in the notes and never followed;
- a name must stay inside the archive: absolute names, `..` segments and NUL are refused;
- a member over the file cap stops the index there, and so do the declared sizes of all members
  together over the archive's content cap, and more than MAX_MEMBERS members: going past a
  member inflates its data, so a tar bomb (or a sparse 10 GiB member) is refused by its header,
  before it costs anything;
- a cut or corrupt archive keeps what was indexed before the damage, and so does a header that
  claims more than MAX_READ bytes (tarfile would read a pax or long-name header whole);

The readers then read the members through the same caps as any log file (FetchBudget).
"""

from __future__ import annotations

import gzip
import posixpath
import tarfile
import zlib
from collections.abc import Iterator
from typing import IO, BinaryIO, cast

from citriage.analyze.logs.streams import CHUNK, FetchBudget, maybe_inflate, open_stream
from citriage.errors import FetchFailed

MAX_MEMBERS = 10_000
# tarfile reads a pax or GNU long-name header whole: a 200 KB archive can claim a 200 MiB one.
# No single read may ask for more than this (members are read in CHUNK-sized pieces).
MAX_READ = 16 * 1024 * 1024


class _BoundedReads:
    """The inflated archive for tarfile, refusing any one read over MAX_READ bytes."""

    mode = "rb"

    def __init__(self, inner: gzip.GzipFile) -> None:
        self._inner = inner

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0 or size > MAX_READ:
            raise tarfile.ReadError(f"a header of {size} bytes (over {MAX_READ}) is refused")
        return self._inner.read(size)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()


def _safe_name(name: str) -> str | None:
    """The member's name relative to the archive's root, or None when it would leave it."""
    if not name or "\x00" in name or name.startswith("/") or "\\" in name:
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return posixpath.join(*parts)


class ArchiveLogTree:
    """The regular files of a tar.gz, as a LogTree."""

    def __init__(self, archive: BinaryIO, location: str, budget: FetchBudget, max_content_bytes: int) -> None:
        self._location = location
        self.budget = budget
        try:
            inflated = gzip.GzipFile(fileobj=archive, mode="rb")
            self._tar = tarfile.TarFile(fileobj=cast(IO[bytes], _BoundedReads(inflated)), mode="r")
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise FetchFailed(f"{location}: not a readable tar.gz ({type(exc).__name__}: {exc})") from None
        self._members: dict[str, tarfile.TarInfo] = {}
        self._index(max_content_bytes)

    def _index(self, max_content_bytes: int) -> None:
        refused: list[str] = []
        total = seen = 0
        member = self._next(seen)
        while member is not None:
            seen += 1
            if seen > MAX_MEMBERS:
                self.budget.note(f"{self._location}: more than {MAX_MEMBERS} members; the rest were not read")
                break
            if member.size > self.budget.max_file_bytes and member.isfile():
                self.budget.note(
                    f"{self._location}: member {member.name!r} is {member.size} bytes, over the "
                    f"{self.budget.max_file_bytes}-byte file cap: it and the members after it were not read"
                )
                break
            total += member.size
            if total > max_content_bytes:
                self.budget.note(
                    f"{self._location}: its members hold more than {max_content_bytes} bytes (a tar bomb?): "
                    f"{member.name!r} and the members after it were not read"
                )
                break
            name = _safe_name(member.name)
            if not member.isfile():
                if not member.isdir():
                    kind = "link" if member.issym() or member.islnk() else "special file"
                    refused.append(
                        f"{member.name!r} ({kind}{' to ' + repr(member.linkname) if kind == 'link' else ''})"
                    )
            elif name is None:
                refused.append(f"{member.name!r} (its name leaves the archive)")
            elif name in self._members:
                refused.append(f"{member.name!r} (a second member of that name)")
            else:
                self._members[name] = member
            try:
                member = self._tar.next()
            except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
                self.budget.note(
                    f"{self._location}: cut or corrupt after {seen} members ({type(exc).__name__})"
                )
                break
        if refused:
            shown = ", ".join(refused[:10]) + (f" and {len(refused) - 10} more" if len(refused) > 10 else "")
            self.budget.note(f"{self._location}: refused {len(refused)} member(s), never read: {shown}")

    def _next(self, seen: int) -> tarfile.TarInfo | None:
        """The next member's header (the first one's the first time), or None at the end or
        where the archive is cut or corrupt (noted)."""
        try:
            member: tarfile.TarInfo | None = self._tar.next()
            return member
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            self.budget.note(f"{self._location}: cut or corrupt after {seen} members ({type(exc).__name__})")
            return None

    @property
    def root(self) -> str:
        """The archive's location."""
        return self._location

    def open(self, path: str, tail_bytes: int = 0) -> BinaryIO | None:
        """A member's content (inflated when it is itself gzip), through the budget's caps."""
        member = self._members.get(_safe_name(path) or "")
        if member is None:
            return None
        try:
            handle = self._tar.extractfile(member)
        except (tarfile.TarError, OSError, zlib.error) as exc:
            self.budget.note(f"{self._location}: {path} could not be read ({type(exc).__name__})")
            return None
        if handle is None:
            return None
        return open_stream(
            maybe_inflate(self._chunks(handle, path), path, self.budget), path, self.budget, tail_bytes
        )

    def _chunks(self, handle: IO[bytes], path: str) -> Iterator[bytes]:
        """A member's bytes; a cut or corrupt archive ends them with FetchFailed."""
        try:
            while chunk := handle.read(CHUNK):
                yield chunk
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise FetchFailed(f"{self._location}: {path} is cut or corrupt ({type(exc).__name__})") from None

    def url_for(self, path: str) -> str:
        """Where a member is: the archive's location and the member's name."""
        return f"{self._location}#{_safe_name(path) or path}"

    def listing(self, notes: list[str]) -> list[str]:
        """The regular files kept, by name."""
        return sorted(self._members)
