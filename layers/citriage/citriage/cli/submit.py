"""`citriage submit`: a job pushes its own results to citriage (docs/in-job.md).

    citriage submit --server URL --job JOB --build-id ID [--result WORD] [--dir DIR]
                    [--results GLOB ...] [--console FILE] [--link NAME=URL ...] [--wait]

The result files are found in `--dir` the way `citriage analyze` finds them (subunit, JUnit,
openQA, tempest consoles, component lists), plus any `--results` globs; the console is the
tree's own, or `--console` (its last MAX_CONSOLE_BYTES when longer). They are packed into one
tar.gz under the caps, and uploaded: `POST /uploads` (the manifest), a PUT to the presigned URL,
then `POST /uploads/{id}/complete`. The answer is the client's envelope, with the run id.

The key never comes from a flag (it would land in the process list and the job's log):
CITRIAGE_KEY (the generic source's HMAC key) or CITRIAGE_TOKEN (a token of scope `submit`), or
`key=`/`token=` in the options file. `--wait` waits for the verdict and exits as `analyze` does
with `--fail-on`: 1 on a verdict it names, 3 when the logs could not be read.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from citriage.analyze.logs.fetch import LocalLogTree
from citriage.analyze.logs.layouts import discovery_from_paths, glob_to_regex
from citriage.analyze.logs.streams import FetchBudget
from citriage.cli.analyze import _fail_on
from citriage.cli.client import ClientFailure, Status, _read_capped, options_file, refusal
from citriage.cli.exits import FAIL_ON, Exit, printable
from citriage.config import ClientSettings
from citriage.intake.sources.auth import CITRIAGE_SIGNATURE_HEADER, sign_timestamped
from citriage.models.query import Envelope, Invocation
from citriage.models.upload import UploadStatus, UploadTicket

# What one upload packs at most: a file, the console's tail, the archive.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_CONSOLE_BYTES = 16 * 1024 * 1024
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024
MAX_FILES = 2000
TIMEOUT = (5, 60)
POLL_SECONDS = 2.0


class _Auth:
    """How requests are signed: an HMAC key's timestamped signature, or a bearer token."""

    def __init__(self, key: str | None, token: str | None) -> None:
        if not key and not token:
            raise ClientFailure(
                Status.NOT_AUTHORISED,
                "no credential: set CITRIAGE_KEY (the generic HMAC key) or CITRIAGE_TOKEN (a submit token)",
            )
        self._key, self._token = key, token

    def headers(self, body: bytes) -> dict[str, str]:
        if self._token:
            return {"Authorization": f"Bearer {self._token}"}
        return {CITRIAGE_SIGNATURE_HEADER: sign_timestamped(body, self._key or "")}


def _credentials(args: argparse.Namespace) -> tuple[str, _Auth]:
    settings = ClientSettings.from_env()
    conf = options_file(settings)
    given = args.submit_server or getattr(args, "server", None)
    server = (given or settings.citriage_server or conf.get("server") or "").rstrip("/")
    if not server.startswith(("http://", "https://")):
        raise ClientFailure(Status.UNREACHABLE, "no server: give --server URL, or set CITRIAGE_SERVER")
    key = settings.citriage_key or conf.get("key")
    return server, _Auth(key, settings.citriage_token or conf.get("token"))


def _pick(args: argparse.Namespace, notes: list[str]) -> list[tuple[Path, str]]:
    """(file, name in the archive) of the results, components and console to send."""
    root = Path(args.dir).resolve()
    if not root.is_dir():
        raise ClientFailure(Status.REFUSED, f"--dir {args.dir}: not a directory")
    listed = LocalLogTree(root, FetchBudget(MAX_FILE_BYTES, MAX_ARCHIVE_BYTES)).listing(notes)
    found = discovery_from_paths(listed, "listing")
    names = [f.path for f in found.results] + [f.path for f in found.components] + found.job_json
    for pattern in args.results or []:
        regex = glob_to_regex(pattern.lstrip("./"))
        matched = [p for p in listed if regex.fullmatch(p)]
        if not matched:
            notes.append(f"--results {pattern}: no file matched under {root}")
        names += matched
    picked = [(root / name, name) for name in dict.fromkeys(names)]
    if args.console:
        console = Path(args.console)
        if not console.is_file():
            raise ClientFailure(Status.REFUSED, f"--console {args.console}: no such file")
        picked.append((console, "job-output.txt"))
    elif found.console:
        picked.append((root / found.console[0], found.console[0]))
    return picked[:MAX_FILES]


def _pack(picked: list[tuple[Path, str]], notes: list[str]) -> IO[bytes]:
    """The tar.gz of the picked files (a console over its cap: its tail, after a marker line)."""
    archive = tempfile.TemporaryFile()  # noqa: SIM115 - returned open, closed by the caller
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for path, name in picked:
            size = path.stat().st_size
            console = name == "job-output.txt" or name.endswith(("job-output.txt", "console.log"))
            if console and size > MAX_CONSOLE_BYTES:
                left_out = size - MAX_CONSOLE_BYTES
                with path.open("rb") as handle:
                    handle.seek(left_out)
                    data = f"[citriage submit: the first {left_out} bytes were left out]\n".encode()
                    data += handle.read(MAX_CONSOLE_BYTES)
                member = tarfile.TarInfo(name)
                member.size, member.mtime = len(data), int(path.stat().st_mtime)
                tar.addfile(member, io.BytesIO(data))
            elif size > MAX_FILE_BYTES:
                notes.append(f"{name}: {size} bytes, over the {MAX_FILE_BYTES}-byte cap: not sent")
            else:
                tar.add(path, arcname=name, recursive=False)
    if archive.tell() > MAX_ARCHIVE_BYTES:
        raise ClientFailure(
            Status.REFUSED, f"the archive is {archive.tell()} bytes; at most {MAX_ARCHIVE_BYTES}"
        )
    archive.seek(0)
    return archive


def _request(method: str, url: str, headers: dict[str, str], body: Any = None) -> Any:
    import requests  # noqa: PLC0415  # only the client's calls need it

    try:
        with requests.request(
            method, url, headers=headers, data=body, timeout=TIMEOUT, stream=True, allow_redirects=False
        ) as response:
            raw, status = _read_capped(response), response.status_code
    except requests.RequestException as exc:
        raise ClientFailure(Status.UNREACHABLE, f"{url}: unreachable ({type(exc).__name__})") from None
    if status >= 300:
        try:
            message = json.loads(raw).get("message")
        except (ValueError, AttributeError):
            message = raw[:200].decode("utf-8", "replace")
        raise refusal(status, message)
    return json.loads(raw) if raw.strip().startswith(b"{") else None


def _manifest(args: argparse.Namespace, size: int) -> dict[str, Any]:
    links = {}
    for link in args.link or []:
        name, sep, url = link.partition("=")
        if not sep or not url.startswith(("http://", "https://")):
            raise ClientFailure(Status.REFUSED, f"--link {link!r}: give NAME=http(s)://...")
        links[name] = url
    fields = {"job": args.job, "build_id": args.build_id, "result": args.result, "size": size, "links": links}
    fields |= {
        k: getattr(args, k)
        for k in ("project", "branch", "pipeline", "change", "patchset")
        if getattr(args, k)
    }
    return fields


def submit(args: argparse.Namespace) -> tuple[dict[str, Any], Exit | None]:
    """Pack, upload, confirm (and with --wait, the verdict); what to print, and the exit code
    --wait decided."""
    server, auth = _credentials(args)
    fail_on = _fail_on(args.fail_on)
    notes: list[str] = []
    picked = _pick(args, notes)
    if not picked:
        raise ClientFailure(Status.REFUSED, f"nothing to send: no result file or console found in {args.dir}")
    with _pack(picked, notes) as archive:
        size = archive.seek(0, 2)
        archive.seek(0)
        body = json.dumps(_manifest(args, size)).encode("utf-8")
        ticket = UploadTicket.model_validate(
            _request(
                "POST", f"{server}/uploads", auth.headers(body) | {"Content-Type": "application/json"}, body
            )
        )
        returns: dict[str, Any] = {
            "run_id": ticket.run_id,
            "upload_id": ticket.upload_id,
            "files": len(picked),
        }
        if ticket.duplicate or ticket.upload_url is None:
            return returns | {"state": "duplicate", "notes": notes}, None
        _request("PUT", ticket.upload_url, ticket.headers, archive)
    done = f"{server}/uploads/{ticket.upload_id}"
    _request("POST", f"{done}/complete", auth.headers(b""), b"")
    returns |= {"state": "queued", "notes": notes}
    if not args.wait:
        return returns, None
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        status = UploadStatus.model_validate(_request("GET", done, auth.headers(b"")))
        if status.state == "analysed" and status.verdict is not None:
            returns |= {"state": "analysed", "verdict": status.verdict.value, "logs_read": status.logs_read}
            if not status.logs_read:
                return returns, Exit.UNREADABLE
            failing = any(status.verdict in FAIL_ON[word] for word in fail_on)
            return returns, Exit.VERDICT if failing else Exit.OK
        time.sleep(POLL_SECONDS)
    raise ClientFailure(Status.SERVER_ERROR, f"no verdict for {ticket.run_id} within {args.timeout} s")


def run(args: argparse.Namespace) -> int:
    """`citriage submit`: print the envelope; exit with its status, or --wait's verdict code."""
    try:
        returns, verdict_exit = submit(args)
        envelope = Envelope(invocation=Invocation(status=0, message="ok"), returns=returns)
    except ClientFailure as exc:
        envelope = Envelope(invocation=Invocation(status=exc.status, message=printable(str(exc))))
        verdict_exit = None
    print(envelope.model_dump_json(indent=2))
    if envelope.invocation.status:
        print(f"citriage submit: {envelope.invocation.message}", file=sys.stderr)
    return int(verdict_exit) if verdict_exit is not None else envelope.invocation.status


def register(sub: Any) -> None:
    """Add `submit` to the CLI's subcommands."""
    p = sub.add_parser("submit", help="push this job's own results to citriage (run at the end of a job)")
    p.add_argument(
        "--server",
        dest="submit_server",
        help="citriage's API URL (default: --from, CITRIAGE_SERVER, or server= in the options file)",
    )
    p.add_argument("--job", required=True, help="the job's name (what subscriptions match)")
    p.add_argument("--build-id", required=True, help="this build's id, unique for the job's CI")
    p.add_argument("--result", help="the CI's result word, e.g. FAILURE, SUCCESS")
    p.add_argument("--dir", default=".", help="where the job's results are (default: the current directory)")
    p.add_argument(
        "--results", action="append", metavar="GLOB", help="more result files under --dir (repeatable)"
    )
    p.add_argument("--console", metavar="FILE", help="the job's console log (its tail when long)")
    p.add_argument(
        "--link", action="append", metavar="NAME=URL", help="a link shown with the run (repeatable)"
    )
    for name in ("project", "branch", "pipeline", "change", "patchset"):
        p.add_argument(f"--{name}", help=f"the run's {name}")
    p.add_argument("--wait", action="store_true", help="wait for the verdict, and exit by --fail-on")
    p.add_argument(
        "--timeout", type=float, default=600.0, help="how long --wait waits (seconds, default 600)"
    )
    p.add_argument(
        "--fail-on",
        action="append",
        metavar="WORDS",
        help=f"with --wait, exit 1 on these verdicts ({', '.join(FAIL_ON)}; repeatable or comma-separated)",
    )
    p.set_defaults(func=run)
