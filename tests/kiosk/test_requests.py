"""Essential requests filed at the kiosk: sent at once with a receipt
number; kept in the sealed cache with a kiosk-made reference while the
central server is away (a real refused connection), and sent by a round with
that reference; once up, nothing of the words stays at the kiosk. A PREA
report's words are never printed nor listed at the kiosk. The paper copy
comes out of the simulated printer."""

from __future__ import annotations

import datetime
import socket
import time
from pathlib import Path

from sqlalchemy import select

from central.schema import essential_requests as requests_table
from hw.peripherals import print_text
from kiosk.answers import FiledRequest
from kiosk.central_client import CentralClient, KioskCredentials
from kiosk.i18n import Translator
from kiosk.letters import Letters
from kiosk.requests import Requests, paper_copy
from kiosk.residents import ResidentSessions
from kiosk.rounds import CentralSync
from simulators.kiosk_hw import ReceiptPrinter
from tests.central.api_server import ApiServer
from tests.sync.rig import open_cache

ACHE = "My tooth has hurt for three days and I cannot eat."
PREA_WORDS = "Officer Grey came to my cell at night and"


def _client(server: ApiServer, url: str | None = None) -> CentralClient:
    ident = server.kiosks["K-A2"]
    return CentralClient(url or server.url, KioskCredentials(ident.certificate, ident.key,
                                                             server.ca_file),
                         attempts=1, backoff=0.01)


def _away() -> str:
    """The address of a server that is not there: a loopback port nobody holds."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"https://127.0.0.1:{port}"


def _resident(server: ApiServer, client: CentralClient) -> tuple[int, str]:
    rid = server.facility.admit("100001", "Ann Example").id
    token = client.resident_login("100001", "482916").token
    client.change_pin(token, "482916", "135790")
    return rid, token


def test_a_request_goes_up_at_once_with_its_receipt(api: ApiServer,
                                                    tmp_path: Path) -> None:
    with _client(api) as client:
        rid, token = _resident(api, client)
        cache = open_cache(tmp_path / "kiosk")
        requests = Requests(client, cache)
        answer = requests.file(resident_id=rid, token=token, type_="medical", body=ACHE,
                               uid="kr-medical-0001")
        filed = answer.get()
        assert filed.state == "sent" and filed.receipt.startswith("R-") and filed.due_at
        assert filed.number == filed.receipt
        again = requests.file(resident_id=rid, token=token, type_="medical", body=ACHE,
                              uid="kr-medical-0001").get()
        assert again.receipt == filed.receipt  # the same uid files nothing twice
        with api.facility.central.db.read() as conn:
            rows = conn.execute(select(requests_table)).all()
        assert [(r.type, r.body, r.source, r.kiosk_reference) for r in rows] \
            == [("medical", ACHE, "kiosk", None)]
        # Sent: the words are the server's now, and not kept at the kiosk.
        assert cache.local.rows("SELECT body, token FROM requests") == [("", "")]
        assert ACHE.encode() not in (tmp_path / "kiosk" / "cache.db").read_bytes()
        cache.close()


def test_bad_requests_are_refused_before_anything_is_kept(api: ApiServer,
                                                          tmp_path: Path) -> None:
    with _client(api) as client:
        rid, token = _resident(api, client)
        cache = open_cache(tmp_path / "kiosk")
        requests = Requests(client, cache)
        for type_, body in (("medical", "   "), ("parole", ACHE), ("grievance", "x" * 4001)):
            answer = requests.file(resident_id=rid, token=token, type_=type_, body=body)
            assert not answer.ok and answer.code == "bad_request", answer
        assert cache.local.rows("SELECT count(*) FROM requests") == [(0,)]
        cache.close()


def test_while_the_server_is_away_a_request_is_kept_with_a_reference_and_sent_later(
        api: ApiServer, tmp_path: Path) -> None:
    with _client(api) as client, _client(api, _away()) as away:
        rid, token = _resident(api, client)
        cache = open_cache(tmp_path / "kiosk")
        offline = Requests(away, cache)
        filed = offline.file(resident_id=rid, token=token, type_="grievance", body=ACHE).get()
        assert filed.state == "queued" and not filed.receipt
        assert filed.reference.startswith("K-") and filed.number == filed.reference
        # Kept sealed: a copy of the cache shows neither the words nor the session.
        raw = b"".join(p.read_bytes() for p in (tmp_path / "kiosk").glob("cache.db*"))
        assert ACHE.encode() not in raw and token.encode() not in raw

        pump = CentralSync(client, cache, requests=Requests(client, cache))
        assert pump.run_once().sent_requests == 1
        assert pump.run_once().sent_requests == 0  # once
        with api.facility.central.db.read() as conn:
            row = conn.execute(select(requests_table)).one()
        assert (row.type, row.body, row.kiosk_reference) == ("grievance", ACHE,
                                                             filed.reference)
        assert row.written_at == filed.written_at  # when it was written, at the kiosk
        (line,) = offline.here(rid)
        assert line.state == "sent" and line.receipt == row.receipt
        cache.close()


def test_a_request_whose_session_ended_waits_for_the_next_login(
        api: ApiServer, tmp_path: Path) -> None:
    with _client(api) as client:
        rid, _ = _resident(api, client)
        cache = open_cache(tmp_path / "kiosk")
        requests = Requests(client, cache)
        answer = requests.file(resident_id=rid, token="a session that has ended",
                               type_="records", body="A copy of my sentencing papers.")
        assert answer.get().state == "waiting_login"
        pump = CentralSync(client, cache, requests=requests)
        assert pump.run_once().sent_requests == 0  # not with a dead session
        requests.renew(rid, client.resident_login("100001", "135790").token)
        assert pump.run_once().sent_requests == 1
        assert [f.state for f in requests.here(rid)] == ["sent"]
        cache.close()


def test_a_prea_report_is_listed_without_its_words(api: ApiServer,
                                                  tmp_path: Path) -> None:
    with _client(api) as client:
        api.facility.admit("100001", "Ann Example")
        cache = open_cache(tmp_path / "kiosk")
        sessions = ResidentSessions(client, cache, Letters(client, cache), unit="U-A")
        assert sessions.login("100001", "482916").get().must_change_pin
        sessions.change_pin("482916", "135790").get()
        for type_, body in (("prea", PREA_WORDS), ("medical", ACHE)):
            attempt = sessions.attempt("request", type_)
            assert sessions.file_request(attempt, type_=type_, body=body).get().receipt
        lines = {line.type: line for line in sessions.requests_list().get()}
        assert lines["prea"].text == "" and lines["prea"].number.startswith("R-")
        assert lines["medical"].text == ACHE
        assert all(PREA_WORDS not in str(line) for line in lines.values())
        # The server goes away: the list as last read here, without any words.
        with _client(api, _away()) as away:
            sessions.client = sessions.requests.client = away
            kept = sessions.requests_list()
            assert kept.ok and not kept.online and kept.as_of
            assert {(line.type, line.number, line.text) for line in kept.get()} \
                == {(t, lines[t].number, "") for t in ("prea", "medical")}
        resident = sessions.resident
        assert resident is not None
        kept_text = cache.kept(f"requests:{resident.resident_id}") or ""
        assert lines["medical"].number in kept_text and ACHE not in kept_text  # no words
        cache.close()


def test_paper_copies_say_the_number_and_never_a_prea_reports_words() -> None:
    english = Translator()
    at = int(time.time())
    sent = FiledRequest("u", "medical", "sent", "K-AAAA-BBBB", at, "R-7KQ2-M9XD", at + 86400)
    copy = paper_copy(sent, body=ACHE + " " + "x" * 60, name="Ann Example", agency_id="100001",
                      location="CC-A-HALL", days=2, t=english)
    assert "Receipt number: R-7KQ2-M9XD" in copy and "K-AAAA" not in copy
    assert "three days" in copy and all(len(line) <= 42 for line in copy.splitlines())
    kept = FiledRequest("u", "prea", "queued", "K-AAAA-BBBB", at)
    copy = paper_copy(kept, body=PREA_WORDS, name="Ann Example", agency_id="100001",
                      location="CC-A-HALL", days=1, t=english)
    assert "Kiosk reference: K-AAAA-BBBB" in copy and "PREA REPORT" in copy
    assert "Grey" not in copy and "cell" not in copy
    assert "within 1 days" in copy


def test_a_paper_copy_in_spanish_writes_its_dates_the_spanish_way() -> None:
    spanish = Translator().speaking("es")
    at = int(datetime.datetime(2025, 3, 12, 14, 5).timestamp())
    sent = FiledRequest("u", "medical", "sent", "K-AAAA-BBBB", at, "R-7KQ2-M9XD",
                        at + 2 * 86400)
    copy = paper_copy(sent, body=ACHE, name="Ann Example", agency_id="100001",
                      location="CC-A-HALL", days=2, t=spanish)
    assert "SOLICITUD MÉDICA" in copy and "Número de recibo: R-7KQ2-M9XD" in copy
    assert "Escrita: 12 de marzo de 2025, 14:05" in copy
    flat = " ".join(copy.split())  # a long line is wrapped to the paper's width
    assert "Plazo de respuesta: 14 de marzo de 2025, 14:05" in flat
    assert "Receipt" not in copy and "March" not in copy and "Written" not in copy
    assert "three days" in copy  # the resident's own words, as written
    assert all(len(line) <= 42 for line in copy.splitlines())
    english = paper_copy(sent, body=ACHE, name="Ann Example", agency_id="100001",
                         location="CC-A-HALL", days=2, t=Translator())
    assert "Written: March 12, 2025, 14:05" in english

    kept = FiledRequest("u", "prea", "queued", "K-AAAA-BBBB", at)
    copy = paper_copy(kept, body=PREA_WORDS, name="Ann Example", agency_id="100001",
                      location="CC-A-HALL", days=1, t=spanish)
    assert "Referencia del quiosco: K-AAAA-BBBB" in copy and "DENUNCIA PREA" in copy
    assert "dentro de 1 días" in copy and "Grey" not in copy and "cell" not in copy
    assert "servidor central" in copy and all(len(line) <= 42 for line in copy.splitlines())


def test_a_paper_copy_comes_out_of_the_printer(tmp_path: Path) -> None:
    printer = ReceiptPrinter(tmp_path / "spool")
    printer.open()
    try:
        at = int(time.time())
        copy = paper_copy(FiledRequest("u", "legal", "sent", "K-AAAA-BBBB", at, "R-22XY-ZZ33",
                                       at), body="Necesito hablar con mi abogado, José.",
                          name="Lucía Peña", agency_id="903377", location="CC-A", days=5,
                          t=Translator().speaking("es"))
        print_text(f"serial://{printer.tty}", copy)
        deadline = time.monotonic() + 10
        while b"Jose." not in printer.printed() and time.monotonic() < deadline:
            time.sleep(0.05)
        paper = printer.printed().decode("ascii")
        assert "Numero de recibo: R-22XY-ZZ33" in paper and "SOLICITUD LEGAL" in paper
        assert "Lucia Pena (903377)" in paper and "abogado, Jose." in paper  # accents dropped
    finally:
        printer.close()
