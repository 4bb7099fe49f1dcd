"""How many "nothing new" feed polls per second the central server answers,
on SQLite and on PostgreSQL.

Each backend gets a migrated database with one agency, one facility, four
units of 250 residents, one kiosk per unit (registered with its certificate's
fingerprint), three family contacts per resident, and 1,000,000 delivered
messages, each with its record (a JSON body of about 300 bytes) in the
resident's feed, spread unevenly over the 1,000 feeds; each feed's head
matches its last record. Places and kiosks are made through the services,
the rest in bulk (no ledger accounts, approvals or contact feeds: a poll reads
only ``residents``, ``feeds`` and ``feed_records``).

The real server (``CentralServer``, uvicorn in a thread of this process) then
serves TLS 1.3 with kiosk client certificates, as in production. One client
process per kiosk keeps one connection alive and asks
``GET /v1/kiosk/feeds/{resident}?since={head}`` for random residents of its
unit, back to back. Every answer must be 200 with the feed's head and no
records; anything else counts as a failure, not a poll. The figure counts the
polls answered in a fixed window after a warm-up. The client processes (and,
for PostgreSQL, the database server) share the machine's cores with the
server, as they would not in production.
"""

from __future__ import annotations

import datetime
import http.client
import itertools
import json
import multiprocessing
import random
import ssl
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, text

from base.files import write_atomic
from central import migrate
from central.config import CentralConfig
from central.schema import contacts, feeds, residents
from central.server import CentralServer, build_central, kiosk_trust
from central.services import accounts
from central.services.core import Central
from central.services.scope import Scope
from device_security.ca_store import CertificateAuthority, IdentityFiles
from device_security.pki import Role, fingerprint, private_key_pem
from tests.postgres_server import PostgresServer

SEED = 20261124
UNITS = 4
RESIDENTS = 1_000  # spread evenly over the units
CONTACTS_PER_RESIDENT = 3
RECORDS = 1_000_000  # spread unevenly over the residents' feeds, about 1,000 each
BATCH = 20_000  # records per executemany, one transaction each
WARMUP_S = 1.0
MEASURE_S = 5.0
START_TIMEOUT_S = 120.0  # for the client processes to import and connect
PIN = "482916"
AGENCY = "WA"
FACILITY = "F1"

CONTACT_NAMES = ("Maria Lopez", "James Carter", "Aisha Brown", "Tom Nguyen", "Rosa Diaz",
                 "Keisha Williams", "Daniel Park", "Grandma Jo")
SENTENCES = (
    "Hi baby, hope you are doing okay in there.",
    "The kids ask about you every night before bed.",
    "Mom says she will put money on your books Friday.",
    "I sent the photos from the birthday party last week.",
    "Your sister got the job at the hospital, she starts Monday.",
    "We are coming to visit on the 14th if the schedule holds.",
    "The dog keeps sleeping on your side of the couch.",
    "Write me back when you get this, I miss your letters.",
    "Did the books I ordered ever arrive? Let me know.",
    "Stay strong, only a few more months to go.",
    "Church group is praying for you, everybody says hello.",
    "I paid the phone bill so we can talk Sunday.",
)


def _say(started: float, what: str) -> None:
    print(f"  [{time.monotonic() - started:6.1f} s] {what}", flush=True)


# -- certificates -----------------------------------------------------------------


@dataclass(frozen=True)
class KioskFiles:
    kiosk_id: str
    unit_id: str
    location_code: str
    certificate: Path
    key: Path
    fingerprint: str


@dataclass(frozen=True)
class Pki:
    ca_certificate: Path
    crl: Path
    server_certificate: Path
    server_key: Path
    kiosks: tuple[KioskFiles, ...]


def _identity(ca: CertificateAuthority, directory: Path, role: Role, name: str,
              now: datetime.datetime, hosts: tuple[str, ...] = ()) -> tuple[Path, Path, str]:
    key = Ed25519PrivateKey.generate()
    cert = ca.issue(key.public_key(), role=role, name=name, now=now, hosts=hosts)
    directory.mkdir(parents=True, exist_ok=True)
    write_atomic(directory / "key.pem", private_key_pem(key), mode=0o600)
    IdentityFiles(directory).install(cert, ca.certificate)
    return directory / "certificate.pem", directory / "key.pem", fingerprint(cert)


def make_pki(directory: Path) -> Pki:
    """A facility CA, the server's certificate for 127.0.0.1, and one kiosk per unit."""
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1)
    ca = CertificateAuthority.create(directory / "ca", "Bench Facility", now=now)
    server_cert, server_key, _ = _identity(ca, directory / "server", Role.CENTRAL_SERVER,
                                           "central", now, ("127.0.0.1",))
    kiosks = []
    for n in range(1, UNITS + 1):
        location = f"BF-{n}-DAYROOM"
        cert, key, print_ = _identity(ca, directory / f"K-{n}", Role.KIOSK, location, now)
        kiosks.append(KioskFiles(f"K-{n}", f"U-{n}", location, cert, key, print_))
    return Pki(directory / "ca" / "ca-cert.pem", directory / "ca" / "crl.pem", server_cert,
               server_key, tuple(kiosks))


# -- the database -----------------------------------------------------------------


@dataclass(frozen=True)
class Feed:
    resident_id: int
    unit_id: str
    head: int


def plan_feeds(rng: random.Random) -> list[Feed]:
    """RESIDENTS feeds holding RECORDS records in all, from about 500 to 1,500 each."""
    weights = [rng.uniform(0.5, 1.5) for _ in range(RESIDENTS)]
    total = sum(weights)
    counts = [int(w / total * RECORDS) for w in weights]
    for i in range(RECORDS - sum(counts)):
        counts[i % RESIDENTS] += 1
    per_unit = RESIDENTS // UNITS
    return [Feed(i + 1, f"U-{i // per_unit + 1}", counts[i]) for i in range(RESIDENTS)]


MESSAGE_COLUMNS = ("id", "uid", "resident_id", "contact_id", "direction", "body", "language",
                   "status", "stamps", "request_digest", "created_at", "decided_at",
                   "reason_code")
RECORD_COLUMNS = ("feed", "seq", "kind", "ref", "body", "created_at")
MessageRow = tuple[int, str, int, int, str, str, str, str, int, str, int, int, None]
RecordRow = tuple[str, int, str, str, str, int]


def message_rows(plan: list[Feed], rng: random.Random, at: int
                 ) -> Iterator[tuple[MessageRow, RecordRow]]:
    """A delivered message and its record in the resident's feed, for every
    record of every feed, feed by feed. Record bodies are shaped like
    ``messaging.message_record``'s."""
    message_id = 0
    for f in plan:
        feed = f"resident:{f.resident_id}"
        for seq in range(1, f.head + 1):
            message_id += 1
            uid = f"{rng.getrandbits(128):032x}"
            contact = CONTACTS_PER_RESIDENT * (f.resident_id - 1) + 1 + seq % CONTACTS_PER_RESIDENT
            direction = "from_resident" if rng.random() < 0.4 else "to_resident"
            text = " ".join(rng.sample(SENTENCES, 3))
            sent = at - (f.head - seq) * 3600
            message = (message_id, uid, f.resident_id, contact, direction, text, "en",
                       "delivered", 1, f"{rng.getrandbits(256):064x}", sent, sent, None)
            body = json.dumps({
                "attachments": [], "body": text, "contact_id": contact,
                "contact_name": CONTACT_NAMES[contact % len(CONTACT_NAMES)],
                "direction": direction, "message_id": message_id,
                "resident_id": f.resident_id, "sent_at": sent, "stamps": 1, "uid": uid,
            }, sort_keys=True)
            yield message, (feed, seq, "message", uid, body, sent)


def populate(central: Central, pki: Pki, plan: list[Feed], started: float) -> None:
    """Places and kiosks through the services; residents, their family
    contacts, feeds, messages and feed records in bulk."""
    migrate.upgrade(central.db)
    accounts.create_agency(central, AGENCY, "Bench Department of Corrections")
    accounts.create_facility(central, FACILITY, AGENCY, "Bench Facility", "staff@bench.example")
    for k in pki.kiosks:
        accounts.create_unit(central, k.unit_id, FACILITY, f"Unit {k.unit_id}")
        accounts.register_kiosk(central, k.kiosk_id, k.location_code, k.unit_id, k.fingerprint,
                                scope=Scope.system())
    pin_hash = central.passwords.hash(PIN)  # one hash for all: hashing is not what is measured
    at = central.clock()
    with central.db.write() as conn:
        conn.execute(residents.insert(), [
            {"id": f.resident_id, "agency_id": f"DOC-{f.resident_id:06d}", "agency": AGENCY,
             "name": f"Resident {f.resident_id}", "facility_id": FACILITY,
             "unit_id": f.unit_id, "language": "en", "status": "active", "pin_hash": pin_hash,
             "pin_must_change": True, "failed_logins": 0, "locked_until": 0, "created_at": at}
            for f in plan])
        conn.execute(contacts.insert(), [
            {"id": cid, "email": f"family{cid}@bench.example",
             "name": CONTACT_NAMES[cid % len(CONTACT_NAMES)], "password_hash": pin_hash,
             "status": "active", "failed_logins": 0, "locked_until": 0, "created_at": at}
            for cid in range(1, CONTACTS_PER_RESIDENT * len(plan) + 1)])
        conn.execute(feeds.insert(), [{"feed": f"resident:{f.resident_id}", "head": f.head}
                                      for f in plan])
    _say(started, f"{len(plan):,} residents on {UNITS} units, "
                  f"{CONTACTS_PER_RESIDENT * len(plan):,} family contacts")
    rows = message_rows(plan, random.Random(SEED + 1), at)
    done = 0
    while batch := list(itertools.islice(rows, BATCH)):
        with central.db.write() as conn:
            if central.db.dialect == "postgresql":
                _copy(conn, "messages", MESSAGE_COLUMNS, [m for m, _ in batch])
                _copy(conn, "feed_records", RECORD_COLUMNS, [r for _, r in batch])
            else:
                _insert(conn, "messages", MESSAGE_COLUMNS, [m for m, _ in batch])
                _insert(conn, "feed_records", RECORD_COLUMNS, [r for _, r in batch])
        done += len(batch)
        if done % 200_000 == 0:
            _say(started, f"{done:,} messages and feed records")
    _analyze(central)
    _say(started, "statistics gathered")


def _insert(conn: Connection, table: str, columns: tuple[str, ...],
            rows: list[tuple[Any, ...]]) -> None:
    conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
                         f"VALUES ({', '.join('?' for _ in columns)})", rows)


def _copy(conn: Connection, table: str, columns: tuple[str, ...],
          rows: list[tuple[Any, ...]]) -> None:
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _analyze(central: Central) -> None:
    """What a database in service has had done by its housekeeping: statistics
    for the planner, and on PostgreSQL a vacuum; on SQLite the WAL checkpointed."""
    if central.db.dialect == "postgresql":
        with central.db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE"))
        return
    raw = central.db.engine.raw_connection()  # outside the engine's BEGIN IMMEDIATE
    try:
        raw.execute("ANALYZE")
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


# -- polling ------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientResult:
    polls: int
    failures: int
    latencies_ms: list[float]
    first_failure: str


def poll_client(port: int, kiosk: KioskFiles, ca_certificate: Path,
                feeds_of_unit: list[tuple[int, int]], seed: int, barrier: Barrier,
                results: Queue[ClientResult]) -> None:
    """One kiosk: poll random residents of its unit over one kept-alive connection.

    Runs in its own process; puts one ClientResult on ``results``."""
    rng = random.Random(seed)
    context = ssl.create_default_context(cafile=str(ca_certificate))
    context.load_cert_chain(str(kiosk.certificate), str(kiosk.key))
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    connection.connect()
    polls = failures = 0
    latencies: list[float] = []
    first_failure = ""
    barrier.wait(START_TIMEOUT_S)
    begin = time.monotonic() + WARMUP_S
    end = begin + MEASURE_S
    while True:
        resident_id, head = rng.choice(feeds_of_unit)
        sent = time.perf_counter()
        problem = ""
        try:
            connection.request("GET", f"/v1/kiosk/feeds/{resident_id}?since={head}")
            answer = connection.getresponse()
            body = answer.read()
            if answer.status != 200:
                problem = f"{answer.status}: {body[:200]!r}"
            else:
                page = json.loads(body)
                if page != {"head": head, "records": []}:
                    problem = f"unexpected page for resident {resident_id}: {body[:200]!r}"
        except (OSError, http.client.HTTPException, ValueError) as e:
            problem = f"{type(e).__name__}: {e}"
            connection.close()  # reconnects at the next request
        elapsed_ms = (time.perf_counter() - sent) * 1000
        now = time.monotonic()
        if now >= end:
            break
        if now >= begin:
            if problem:
                failures += 1
                first_failure = first_failure or problem
            else:
                polls += 1
                latencies.append(elapsed_ms)
    connection.close()
    results.put(ClientResult(polls, failures, latencies, first_failure))


@dataclass(frozen=True)
class PollFigures:
    polls_per_s: float
    p50_ms: float
    failures: int
    first_failure: str


def serve_and_poll(central: Central, config: CentralConfig, pki: Pki, plan: list[Feed],
                   started: float) -> PollFigures:
    """Start the server, poll it from one process per kiosk, stop everything."""
    server = CentralServer(central, config, trust=kiosk_trust(config))
    context = multiprocessing.get_context("spawn")  # the server's threads are not forked
    barrier = context.Barrier(len(pki.kiosks) + 1)
    results: Queue[ClientResult] = context.Queue()
    processes = []
    try:
        server.start()
        port = int(server.url.rsplit(":", 1)[1])
        for n, kiosk in enumerate(pki.kiosks):
            unit_feeds = [(f.resident_id, f.head) for f in plan if f.unit_id == kiosk.unit_id]
            process = context.Process(
                target=poll_client, name=f"poll-{kiosk.kiosk_id}", daemon=True,
                args=(port, kiosk, pki.ca_certificate, unit_feeds, SEED + 10 + n, barrier,
                      results))
            process.start()
            processes.append(process)
        barrier.wait(START_TIMEOUT_S)
        _say(started, f"{len(processes)} kiosk processes polling for "
                      f"{WARMUP_S + MEASURE_S:.0f} s")
        outcome = [results.get(timeout=WARMUP_S + MEASURE_S + 60) for _ in processes]
        for process in processes:
            process.join(10)
    finally:
        for process in processes:
            if process.is_alive():
                process.kill()
                process.join(5)
        server.stop()
    polls = sum(r.polls for r in outcome)
    failures = sum(r.failures for r in outcome)
    latencies = [ms for r in outcome for ms in r.latencies_ms]
    first = next((r.first_failure for r in outcome if r.first_failure), "")
    _say(started, f"{polls:,} polls answered, {failures} failed"
                  + (f" (first: {first})" if first else ""))
    return PollFigures(polls / MEASURE_S, statistics.median(latencies) if latencies else 0.0,
                       failures, first)


def bench_backend(name: str, url: str, pki: Pki, state: Path) -> PollFigures:
    started = time.monotonic()
    print(f"central: building the {name} database", flush=True)
    config = CentralConfig(state_dir=state / name, database_url=url, host="127.0.0.1", port=0,
                           tls_certificate=str(pki.server_certificate),
                           tls_key=str(pki.server_key), ca_certificate=str(pki.ca_certificate),
                           crl=str(pki.crl),
                           password_cost="low")  # noqa: S106 - a hashing cost
    central = build_central(config)
    plan = plan_feeds(random.Random(SEED))
    try:
        populate(central, pki, plan, started)
    except BaseException:
        central.db.dispose()
        raise
    _say(started, f"built in {time.monotonic() - started:.0f} s; polling")
    return serve_and_poll(central, config, pki, plan, started)


def run() -> dict[str, tuple[float, str, str]]:
    with tempfile.TemporaryDirectory(prefix="sallyport-bench-central-") as directory:
        state = Path(directory)
        pki = make_pki(state / "pki")
        sqlite = bench_backend("sqlite", f"sqlite:///{state / 'central.db'}", pki, state)
        postgres_server = PostgresServer()
        postgres_server.start()
        try:
            url = postgres_server.create_database("central_bench")
            postgres = bench_backend("postgres", url, pki, state)
        finally:
            postgres_server.stop()
    setup = (f"{RESIDENTS:,} residents on {UNITS} units, {RECORDS:,} messages in their "
             f"feeds; TLS with kiosk certificates; {UNITS} kiosk processes on the same cores")
    return {
        "central.feed_polls_per_s_sqlite": (
            sqlite.polls_per_s, "polls/s",
            f'"nothing new" feed polls answered on SQLite; {setup}; '
            f"{sqlite.failures} failed"),
        "central.feed_poll_ms_p50": (
            sqlite.p50_ms, "ms", "median client-side time of one such poll on SQLite, "
            f"with {UNITS} kiosks polling at once"),
        "central.feed_polls_per_s_postgres": (
            postgres.polls_per_s, "polls/s",
            f'the same on PostgreSQL (same machine, durability off); '
            f"{postgres.failures} failed"),
    }
