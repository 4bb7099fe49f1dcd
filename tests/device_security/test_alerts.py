"""Alerts reach staff by email (a real SMTP server on loopback) and wait for the
central server in a queue; a tablet left plugged in alerts once."""

import dataclasses
import datetime
import json
import sqlite3
from pathlib import Path

from device_security.alerts import Alert, Alerter, AlertQueue, SmtpAlertMailer, SmtpSettings
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
