"""Each part of the kiosk's service built alone, from what it uses: the
technician lockout as a pure rule, the service state, the resident's
sessions (against a real central server, then without it), the rounds loop
and its events, and the headless answers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.answers import NOT_LOGGED_IN, OFFLINE
from kiosk.central_client import CentralClient, KioskCredentials
from kiosk.cli import plain
from kiosk.events import CentralChanged, Event, RoundDone
from kiosk.letters import Letters
from kiosk.lockout import LOCKOUT_S, TRIES, LockoutState, after_try, locked
from kiosk.residents import ResidentSessions
from kiosk.rounds import CentralSync, Rounds
from kiosk.service_state import ServiceState
from simulators.ports import free_port
from tests.central.api_server import ApiServer
from tests.sync.rig import open_cache

# -- the technician's lockout, a pure rule --------------------------------------------------


def test_the_lockout_locks_after_the_last_wrong_try_and_opens_after_its_time() -> None:
    state = LockoutState()
    for n in range(1, TRIES):
        state = after_try(state, False, 1000.0)
        assert state.failures == n and not locked(state, 1000.0)
    state = after_try(state, False, 1000.0)
    assert locked(state, 1000.0) and locked(state, 1000.0 + LOCKOUT_S - 1)
    assert after_try(state, True, 1001.0) == state  # the right PIN changes nothing while locked
    assert not locked(state, 1000.0 + LOCKOUT_S)
    assert after_try(state, True, 1000.0 + LOCKOUT_S) == LockoutState()


@given(st.lists(st.tuples(st.booleans(), st.floats(0, 10_000)), max_size=40))
def test_no_sequence_of_tries_opens_a_locked_pin_early(tries: list[tuple[bool, float]]) -> None:
    state, now = LockoutState(), 0.0
    for ok, wait in tries:
        now += wait
        before = state
        state = after_try(state, ok, now)
        if locked(before, now):
            assert state == before
        assert state.failures < TRIES


def test_the_service_state_outlives_a_restart(tmp_path: Path) -> None:
    state = ServiceState(tmp_path / "service.json", clock=lambda: 1_800_000_000)
    assert state.out_of_service_since() is None
    assert state.set(False) == 1_800_000_000
    assert ServiceState(tmp_path / "service.json").out_of_service_since() == 1_800_000_000
    assert state.set(True) is None and state.out_of_service_since() is None
    (tmp_path / "service.json").write_text("[broken")
    assert state.out_of_service_since() is None


# -- the resident's sessions ----------------------------------------------------------------


@pytest.fixture
def sessions(api: ApiServer, tmp_path: Path) -> Iterator[ResidentSessions]:
    ident = api.kiosks["K-A2"]
    client = CentralClient(api.url, KioskCredentials(ident.certificate, ident.key, api.ca_file),
                           attempts=1)
    cache = open_cache(tmp_path / "cache")
    yield ResidentSessions(client, cache, Letters(client, cache), unit="U-A")
    client.close()
    cache.close()


def test_a_resident_logs_in_chooses_a_pin_and_is_forgotten_at_once(
        api: ApiServer, sessions: ResidentSessions) -> None:
    api.facility.admit("100001", "Ann Example")
    first = sessions.login("100001", "482916")
    assert first.ok and first.get().must_change_pin and sessions.resident is not None
    assert sessions.home().code == NOT_LOGGED_IN  # nothing until the PIN is their own
    assert sessions.kiosk_session() is None
    assert not sessions.change_pin("000000", "135790").ok
    done = sessions.change_pin("482916", "135790")
    assert done.ok and done.get().name == "Ann Example"
    home = sessions.home()
    assert home.ok and home.online and home.get().agency_id == "100001"
    session = sessions.kiosk_session()
    assert session is not None and session.resident_id == "100001"
    gone = sessions.end_session()
    assert gone is not None and sessions.resident is None and sessions.home().code == \
        NOT_LOGGED_IN
    sessions.tell_server_logout(gone)
    wrong = sessions.login("100001", "999999")
    assert not wrong.ok and wrong.code == "unauthenticated"


def test_an_attempt_keeps_its_key_until_the_server_answers_for_sure(
        api: ApiServer, sessions: ResidentSessions) -> None:
    api.facility.admit("100001", "Ann Example")
    sessions.login("100001", "482916")
    sessions.change_pin("482916", "135790")
    first = sessions.attempt("buy", "song-none")
    assert sessions.attempt("buy", "song-none") == first  # asked again: the same attempt
    assert sessions.attempt("buy", "song-other").key != first.key
    refused = sessions.buy(first)
    assert not refused.ok and not refused.unsure  # no such item: the server's last word
    assert sessions.attempt("buy", "song-none").key != first.key  # the next one is new


def test_kept_answers_stand_in_while_the_server_is_away(
        api: ApiServer, sessions: ResidentSessions, tmp_path: Path) -> None:
    f = api.facility
    f.admit("100001", "Ann Example")
    f.family("sis@example.org", "Sis", approved_for="100001")
    sessions.login("100001", "482916")
    sessions.change_pin("482916", "135790")
    assert sessions.home().ok and sessions.contacts().get()[0].name == "Sis"
    api.server.stop()  # the central server goes away
    home, contacts = sessions.home(), sessions.contacts()
    assert home.ok and not home.online and home.as_of is not None
    assert home.get().name == "Ann Example" and contacts.get()[0].relationship
    bought = sessions.buy(sessions.attempt("buy", "song-1"))
    assert (bought.ok, bought.code, bought.unsure) == (False, OFFLINE, True)
    letter = sessions.write_letter(contacts.get()[0].id, "kept for later")
    assert letter.ok and letter.get().state == "queued"


# -- the rounds loop and what it tells the screen -------------------------------------------


def test_rounds_say_when_the_server_goes_and_comes(
        api: ApiServer, tmp_path: Path) -> None:
    ident = api.kiosks["K-A2"]
    credentials = KioskCredentials(ident.certificate, ident.key, api.ca_file)
    events: list[Event] = []
    cache = open_cache(tmp_path / "cache")
    with CentralClient(f"https://127.0.0.1:{free_port()}", credentials, attempts=1) as away, \
            CentralClient(api.url, credentials, attempts=1) as here:
        rounds = Rounds(CentralSync(away, cache), events.append, interval=0.05)
        assert rounds.online is None
        done = rounds.run_now()
        assert not done.reached_central and rounds.online is False
        rounds.sync = CentralSync(here, cache)
        stop = threading.Event()
        thread = threading.Thread(target=rounds.run, args=(stop,))
        thread.start()
        assert rounds.first_done.wait(20)
        stop.set()
        thread.join(20)
    cache.close()
    changes = [e for e in events if isinstance(e, CentralChanged)]
    assert [c.online for c in changes] == [False, True]
    assert "unreachable" in changes[0].error
    assert any(isinstance(e, RoundDone) and not e.online for e in events)
    assert changes[0].as_json()["event"] == "central"


def test_headless_answers_keep_their_json_shape() -> None:
    from kiosk.answers import Answer, LoggedIn
    from kiosk.records import Contact

    assert plain(Answer.of(LoggedIn(True))) == {"ok": True, "must_change_pin": True, "name": "",
                                                "agency_id": "", "online": True}
    assert plain(Answer.of((Contact(1, "Sis", "sister"),)), "contacts") == {
        "ok": True, "contacts": [{"id": 1, "name": "Sis", "relationship": "sister"}]}
    assert plain(Answer.no("offline", "away", unsure=True)) == {
        "ok": False, "code": "offline", "message": "away", "unsure": True}


def test_a_record_from_the_server_is_checked_field_by_field() -> None:
    from kiosk.records import BadAnswer, Home, parse

    home = {"resident_id": 1, "agency_id": "100001", "name": "Ann", "language": "en",
            "stamps": 3, "prepaid_cents": 100, "tablets": [{"serial": "T", "status": "active"}],
            "something_new": {"ignored": True}}
    assert parse(Home, home).tablets[0].serial == "T"
    for change, field in (({"stamps": "3"}, "Home.stamps"), ({"stamps": True}, "Home.stamps"),
                          ({"tablets": [{"serial": 5, "status": "x"}]}, "tablets[0].serial"),
                          ({"name": "x" * 30_000}, "Home.name"), ({"tablets": {}}, "tablets")):
        with pytest.raises(BadAnswer, match=field.replace("[", r"\[").replace("]", r"\]")):
            parse(Home, {**home, **change})
    with pytest.raises(BadAnswer, match="missing"):
        parse(Home, {k: v for k, v in home.items() if k != "stamps"})


def test_the_rounds_send_alert_mail_that_failed_once_the_server_is_back(
        tmp_path: Path) -> None:
    """An alert whose mail could not go out (the mail server was down) goes
    out at a round after it is back, once; the round itself needs no central
    server for that."""
    import datetime

    from device_security.alerts import Alert, Alerter, AlertQueue, SmtpAlertMailer, SmtpSettings
    from tests.smtp_server import Inbox

    port = free_port()
    alerter = Alerter(AlertQueue(tmp_path / "alerts.db"),
                      SmtpAlertMailer(SmtpSettings("127.0.0.1", port, "kiosk@cc.example",
                                                   "staff@cc.example")))
    assert alerter.raise_alert(Alert(
        reason="assigned_to_someone_else", detail="", resident_id="874512",
        resident_name="Marcus Webb", kiosk_location="CC-A-DAYROOM", tablet_serial="JP5S-9",
        owner_id="903377", owner_name="Lucia", raised_at=datetime.datetime.now(datetime.UTC)),
        plug_id="p1")
    assert alerter.queue.counts()["unmailed"] == 1
    from device_security.ca_store import pem
    from device_security.pki import Role
    from tests.device_security.conftest import Facility

    facility = Facility(tmp_path / "ca")
    kiosk = facility.issue(Role.KIOSK, "K-A1")
    (tmp_path / "ca.pem").write_bytes(pem(facility.ca))
    cache = open_cache(tmp_path / "cache")
    credentials = KioskCredentials(kiosk.credentials.certificate, kiosk.credentials.key,
                                   tmp_path / "ca.pem")
    with CentralClient(f"https://127.0.0.1:{free_port()}", credentials, attempts=1) as away:
        rounds = Rounds(CentralSync(away, cache), lambda e: None, retry_mail=alerter.retry_mail)
        with Inbox(tmp_path / "mail", port=port) as inbox:
            rounds.run_now()  # the central server is away; the mail goes anyway
            assert len(inbox.wait(1)) == 1
            rounds.run_now()
            assert len(inbox.messages) == 1  # once
    assert alerter.queue.counts()["unmailed"] == 0
    cache.close()
