"""Letters written at the kiosk and the writer's session: one whose session
ended before it went up waits for their next login, and then goes up once."""

from __future__ import annotations

from pathlib import Path

from central.services import feeds
from kiosk.central_client import CentralClient, KioskCredentials
from kiosk.letters import Letters
from kiosk.rounds import CentralSync
from tests.central.api_server import ApiServer
from tests.sync.rig import open_cache


def test_a_letter_whose_session_ended_waits_for_the_next_login(
        api: ApiServer, tmp_path: Path) -> None:
    f = api.facility
    rid = f.admit("100001", "Ann Example").id
    cid = f.family("sis@example.org", "Sis", approved_for="100001")
    f.central.trust.set_balance("100001", 10_000)  # type: ignore[attr-defined]
    ident = api.kiosks["K-A2"]
    with CentralClient(api.url, KioskCredentials(ident.certificate, ident.key, api.ca_file),
                       attempts=2, backoff=0.01) as client:
        token = client.resident_login("100001", "482916").token
        client.change_pin(token, "482916", "135790")
        client.transfer(token, 1000, "letters-transfer-1")
        client.buy_stamps(token, "bundle-20", "letters-stamps-1")
        cache = open_cache(tmp_path / "kiosk")
        pump = CentralSync(client, cache, letters=Letters(client, cache))

        cache.queue_letter("k-late-1", resident_id=rid, contact_id=cid, body="see you soon",
                           token="a session that has ended")
        assert pump.run_once().sent_letters == 0
        (letter,) = cache.letters(rid)
        assert letter["state"] == "waiting_login"
        assert pump.run_once().sent_letters == 0  # it does not go with a dead session

        again = client.resident_login("100001", "135790")
        assert cache.renew_letters(rid, again.token) == 1
        assert pump.run_once().sent_letters == 1
        assert pump.run_once().sent_letters == 0
        assert [letter["state"] for letter in cache.letters(rid)] == ["sent"]
        assert cache.local.rows("SELECT token FROM letters") == [("",)]  # not kept once sent
        with f.central.db.read() as conn:
            sent = [r for r in feeds.since(conn, f"contact:{cid}", 0, 100)
                    if r.kind == "message" and r.body["body"] == "see you soon"]
        assert len(sent) == 1
        cache.close()


def test_what_went_up_stays_up_whatever_a_late_answer_says(tmp_path: Path) -> None:
    cache = open_cache(tmp_path / "kiosk")
    cache.queue_letter("k-1", resident_id=1, contact_id=2, body="hi", token="t")
    cache.settle("letters", "k-1", "sent", "{}")
    cache.settle("letters", "k-1", "refused", "a late 409 from a retry")
    cache.settle("letters", "k-1", "queued", "")
    (letter,) = cache.letters(1)
    assert letter["state"] == "sent"
    assert cache.pending_letters() == []
    cache.close()


def test_a_conflict_or_a_server_failure_is_no_final_refusal() -> None:
    from kiosk.central_client import CentralRefused

    assert CentralRefused(402, "insufficient_funds", "no stamps").final
    assert CentralRefused(404, "not_found", "no such contact").final
    assert not CentralRefused(409, "retry", "being sent by another request; retry").final
    assert not CentralRefused(409, "conflict", "written at the same time; retry").final
    assert CentralRefused(409, "counter_not_increasing", "a clone").final
    assert not CentralRefused(500, "internal_error", "oops").final
