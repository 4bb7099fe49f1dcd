"""Alerts reach staff by email (a real SMTP server on loopback) and wait for the
central server in a queue; a tablet left plugged in alerts once."""

import dataclasses
import datetime
import json
import logging
import sqlite3
from pathlib import Path

import pytest

from device_security.alerts import (
    MAIL_BATCH,
    Alert,
    Alerter,
    AlertQueue,
    SmtpAlertMailer,
    SmtpSettings,
    mail_backoff,
)
from device_security.text import OneLineFormatter, printable
from tests.smtp_server import free_port, smtp_server

ALERT = Alert(reason="assigned_to_someone_else", detail="JP5S-000002 belongs to B200",
              resident_id="A100", resident_name="Ana Reyes", kiosk_location="K-B2-01",
              tablet_serial="JP5S-000002", owner_id="B200", owner_name="Bo Lind",
              raised_at=datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC))


def settings(port: int) -> SmtpSettings:
    return SmtpSettings("127.0.0.1", port, "kiosk@facility.test", "staff@facility.test",
                        timeout=3)


def test_alert_email_names_all_five_things(tmp_path: Path) -> None:
    with smtp_server() as (inbox, port):
        alerter = Alerter(AlertQueue(tmp_path / "alerts.db"), SmtpAlertMailer(settings(port)))
        assert alerter.raise_alert(ALERT, plug_id="usb1/1-1@1")
        (mail,) = inbox.wait(1)
    body = mail.get_content()
    assert mail["To"] == "staff@facility.test"
    assert "JP5S-000002" in mail["Subject"] and "K-B2-01" in mail["Subject"]
    for text in ("Ana Reyes (A100)", "K-B2-01", "JP5S-000002", "Bo Lind (B200)",
                 "assigned_to_someone_else"):
        assert text in body


def test_one_alert_per_plug_and_reason(tmp_path: Path) -> None:
    with smtp_server() as (inbox, port):
        alerter = Alerter(AlertQueue(tmp_path / "alerts.db"), SmtpAlertMailer(settings(port)))
        raised = [alerter.raise_alert(ALERT, plug_id="usb1/1-1@1") for _ in range(50)]
        assert raised.count(True) == 1
        alerter.device_left("usb1/1-1@1")
        assert alerter.raise_alert(ALERT, plug_id="usb1/1-1@2")
        assert len(inbox.wait(2)) == 2
    assert len(AlertQueue(tmp_path / "alerts.db").for_central()) == 2


def test_mail_server_down_loses_nothing(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here yet
    queue = AlertQueue(tmp_path / "alerts.db")
    alerter = Alerter(queue, SmtpAlertMailer(settings(port)))
    assert alerter.raise_alert(ALERT, plug_id="p")
    assert len(queue.unmailed()) == 1
    assert len(queue.for_central()) == 1
    from tests.smtp_server import Inbox

    with Inbox(tmp_path / "mail", port=port) as inbox:
        assert alerter.retry_mail() == 1
        assert len(inbox.wait(1)) == 1
    assert queue.unmailed() == []


def test_central_acknowledges(tmp_path: Path) -> None:
    queue = AlertQueue(tmp_path / "alerts.db")
    alerter = Alerter(queue, None)
    alerter.raise_alert(ALERT, plug_id="a")
    (queued,) = queue.for_central()
    assert queued.alert == ALERT and len(queued.uid) >= 16
    queue.mark_delivered([queued.ident])
    assert queue.for_central() == []


def test_each_queued_alert_keeps_one_uid(tmp_path: Path) -> None:
    queue = AlertQueue(tmp_path / "alerts.db")
    queue.put(ALERT)
    queue.put(ALERT)
    first, second = queue.for_central()
    assert first.uid != second.uid
    assert [q.uid for q in AlertQueue(tmp_path / "alerts.db").for_central()] == [first.uid,
                                                                                 second.uid]
    queue.mark_refused(first.ident, "invalid_input: no")
    assert [q.ident for q in queue.for_central()] == [second.ident]
    assert queue.counts() == {"queued": 1, "sent": 0, "refused": 1, "unmailed": 2}


def test_a_queue_from_before_uids_gets_them_once(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "alerts.db") as db:  # the queue as it was made before
        db.execute("CREATE TABLE alerts (id INTEGER PRIMARY KEY, body TEXT NOT NULL, "
                   "emailed INTEGER NOT NULL DEFAULT 0, delivered INTEGER NOT NULL DEFAULT 0)")
        db.execute("INSERT INTO alerts (body) VALUES (?)",
                   (json.dumps(dataclasses.asdict(ALERT), default=str),))
    db.close()
    queue = AlertQueue(tmp_path / "alerts.db")
    (old,) = queue.for_central()
    assert old.alert == ALERT and old.uid
    queue.put(ALERT)
    again, new = queue.for_central()
    assert again.uid == old.uid and new.uid != old.uid


# -- hostile text in an alert -------------------------------------------------------------

HOSTILE = dataclasses.replace(
    ALERT,
    tablet_serial="JP5S-000002\r\nBcc: thief@evil.example\r\nX-Forged: yes",
    resident_name="Ana Reyes\nRegistered owner    Nobody (0)",
    kiosk_location="K-B2-01\r\n.\r\nMAIL FROM:<thief@evil.example>",
    owner_name="Bo \u202eniL\x1b[2J\x00",
    detail="belongs to B200\n\nA device was approved at a kiosk.")


def test_hostile_text_cannot_add_headers_lines_or_stop_the_mail(tmp_path: Path) -> None:
    """A serial, a name and a location with line breaks and control characters:
    the mail still goes out, to staff alone, with the headers and the lines it
    should have, and every hostile character shown as its escape."""
    queue = AlertQueue(tmp_path / "alerts.db")
    with smtp_server() as (inbox, port):
        alerter = Alerter(queue, SmtpAlertMailer(settings(port)))
        assert alerter.raise_alert(HOSTILE, plug_id="usb1/1-1@1")
        (mail,) = inbox.wait(1)
        raw = next(inbox.directory.glob("*.eml")).read_bytes()
    assert queue.unmailed() == []
    assert sorted(mail.keys()) == sorted(["From", "To", "Subject", "Content-Type",
                                          "Content-Transfer-Encoding", "MIME-Version"])
    headers = raw.replace(b"\r\n", b"\n").split(b"\n\n")[0].split(b"\n")
    started = sorted(h.split(b":")[0] for h in headers if not h[:1].isspace())
    assert started == [b"Content-Transfer-Encoding", b"Content-Type", b"From", b"MIME-Version",
                       b"Subject", b"To"]  # a Bcc or X-Forged text is inside the Subject
    assert mail["To"] == "staff@facility.test"
    assert "\\r\\nBcc: thief@evil.example" in mail["Subject"]
    body = mail.get_content().replace("\r\n", "\n")  # SMTP's line ends
    lines = body.splitlines()
    assert lines[0] == "A device was refused at a kiosk." and len(lines) == 2 + 7
    assert [line.split("  ")[0] for line in lines[2:]] == [
        "Reason", "Detail", "Resident logged in", "Kiosk location", "Tablet serial",
        "Registered owner", "Time"]
    assert "Ana Reyes\\nRegistered owner    Nobody (0) (A100)" in body
    assert "\\u202eniL\\x1b[2J\\x00" in body
    assert not any(ch in body for ch in "\r\x1b\x00\u202e")


def test_hostile_text_cannot_forge_a_log_line(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    forged = "JP5S-1\n2026-11-23 12:00:01 INFO kiosk: tablet JP5S-1 paired for A100"
    alerter = Alerter(AlertQueue(tmp_path / "alerts.db"), None)
    with caplog.at_level(logging.INFO):
        alerter.raise_alert(dataclasses.replace(HOSTILE, tablet_serial=forged), plug_id="p")
    messages = [r.getMessage() for r in caplog.records]
    assert messages and all("\n" not in m and "\r" not in m for m in messages)
    assert any("JP5S-1\\n2026-11-23 12:00:01 INFO kiosk" in m for m in messages)


def test_printable_escapes_and_cuts() -> None:
    assert printable("a\nb\r\tc\\n") == "a\\nb\\r\\tc\\\\n"  # a forged escape shows as one
    assert printable("\u2028\u202e\x7f\U000e0001 ok") == "\\u2028\\u202e\\x7f\\U000e0001 ok"
    assert printable("José 😀") == "José 😀"
    assert printable("x" * 500, 20) == "x" * 17 + "..."
    assert printable(None) == "None" and len(printable("\n" * 300, 50)) == 50


def test_one_line_formatter_keeps_each_record_one_line() -> None:
    formatter = OneLineFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, "tablet %s refused",
                               ("X\nINFO forged",), None)
    assert formatter.format(record) == "WARNING tablet X\\nINFO forged refused"
    try:
        raise ValueError("bad serial X\nERROR forged")
    except ValueError:
        import sys
        record.exc_info = sys.exc_info()
    first, *rest = formatter.format(record).split("\n")
    assert first == "WARNING tablet X\\nINFO forged refused"
    assert rest and all(line.startswith("  | ") for line in rest)
    assert "  | ValueError: bad serial X" in rest


# -- unsent mail is retried, with its backoff on disk --------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_unsent_mail_waits_longer_after_each_failure_even_across_restarts(
        tmp_path: Path) -> None:
    port = free_port()  # nothing listens here yet
    clock = Clock()
    queue = AlertQueue(tmp_path / "alerts.db")
    alerter = Alerter(queue, SmtpAlertMailer(settings(port)), clock=clock)
    assert alerter.raise_alert(HOSTILE, plug_id="p")
    (queued,) = queue.unmailed()
    first = queue.mail_state(queued.ident)
    assert (first.attempts, first.next_at) == (1, clock.now)  # the next round tries again
    assert first.error and str(port) in first.error
    assert alerter.retry_mail() == 0
    assert queue.mail_state(queued.ident).attempts == 2
    clock.now += 29
    assert alerter.retry_mail() == 0
    assert queue.mail_state(queued.ident).attempts == 2  # still waiting: not tried
    clock.now += 1
    assert alerter.retry_mail() == 0
    third = queue.mail_state(queued.ident)
    assert (third.attempts, third.next_at) == (3, clock.now + 60)
    # The kiosk restarts: the wait is on disk, not in memory.
    from tests.smtp_server import Inbox

    with Inbox(tmp_path / "mail", port=port) as inbox:
        restarted = Alerter(AlertQueue(tmp_path / "alerts.db"),
                            SmtpAlertMailer(settings(port)), clock=clock)
        clock.now += 59
        assert restarted.retry_mail() == 0 and inbox.messages == []
        clock.now += 1
        assert restarted.retry_mail() == 1
        assert len(inbox.wait(1)) == 1
    assert queue.unmailed() == [] and queue.counts()["unmailed"] == 0


def test_a_retry_is_bounded_and_stops_at_the_first_failure(tmp_path: Path) -> None:
    port = free_port()
    clock = Clock()
    queue = AlertQueue(tmp_path / "alerts.db")
    for n in range(MAIL_BATCH + 5):
        queue.put(dataclasses.replace(ALERT, tablet_serial=f"JP5S-{n:06d}"))
    alerter = Alerter(queue, SmtpAlertMailer(settings(port)), clock=clock)
    assert alerter.retry_mail() == 0  # the server is down: one attempt, not 25 timeouts
    assert sorted(queue.mail_state(q.ident).attempts for q in queue.unmailed()) == [0] * (
        MAIL_BATCH + 4) + [1]
    from tests.smtp_server import Inbox

    with Inbox(tmp_path / "mail", port=port) as inbox:
        assert alerter.retry_mail() == MAIL_BATCH
        assert alerter.retry_mail() == 5
        assert len(inbox.wait(MAIL_BATCH + 5)) == MAIL_BATCH + 5
    assert queue.unmailed() == []


def test_the_backoff_grows_to_an_hour_and_never_gives_up() -> None:
    assert [mail_backoff(n) for n in range(1, 6)] == [0, 30, 60, 120, 240]
    assert mail_backoff(12) == mail_backoff(10_000) == 3600
