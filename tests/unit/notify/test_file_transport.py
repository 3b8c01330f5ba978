"""The file transport: a mail as .eml and .html files; delivered once in local modes."""

from citriage.notify.transports import FileTransport

from tests.unit.mail_fakes import MESSAGE


def test_a_retried_send_in_once_mode_writes_nothing_the_second_time(tmp_path):
    # Given a mail delivered once (its files exist), then sent again by a retry after a crash
    transport = FileTransport(tmp_path, once=True)
    first = transport.send(MESSAGE, "x@example.org")
    written = (tmp_path / "zuul_1__x@example.org.eml").stat()
    again = transport.send(MESSAGE.model_copy(update={"subject": "another render"}), "x@example.org")
    # Then the same file answers, untouched, and no second copy or partial file is left
    assert first == again
    now = (tmp_path / "zuul_1__x@example.org.eml").stat()
    assert (now.st_ino, now.st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "zuul_1__x@example.org.eml",
        "zuul_1__x@example.org.html",
    ]


def test_without_once_a_send_writes_the_new_mail(tmp_path):
    transport = FileTransport(tmp_path)
    transport.send(MESSAGE, "x@example.org")
    transport.send(MESSAGE.model_copy(update={"subject": "another render"}), "x@example.org")
    assert "another render" in (tmp_path / "zuul_1__x@example.org.eml").read_text()
