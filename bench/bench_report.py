"""How long the monthly report takes for a busy month, on SQLite.

A migrated database gets one agency with four facilities, 2,000 residents and
2,000 families, then, in one month: 1,000,000 messages (both directions,
spread over the residents), 100,000 media purchases (songs, albums and
videos) each with its ledger posting, 20,000 stamp sales to residents and
families with theirs, and 500 tablets given. A month before and a month after
hold another 100,000 messages and 100,000 purchases each, so the report must
pick its month out.
Places come through the services; the rest is inserted in bulk.

The figure is the median of three runs of ``reports.monthly_report`` for the
agency's administrator (every facility and the families' line), the same call
the page and the CSV make.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from central.schema import (
    catalog,
    contacts,
    ledger_accounts,
    ledger_entries,
    ledger_transactions,
    messages,
    purchases,
    residents,
    tablet_issues,
    tablets,
)
from central.services import accounts, reports
from central.services.scope import Scope
from tests.central.facility import build

SEED = 20261204
FACILITIES = 4
RESIDENTS = 2_000
FAMILIES = 2_000
MESSAGES = 1_000_000
OTHER_MONTHS_MESSAGES = 100_000  # in each of the months before and after
PURCHASES = 100_000
STAMP_SALES = 20_000
TABLETS = 500
BATCH = 20_000
MONTH = "2026-11"
SYSTEM = Scope.system()


def _bulk(conn: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), BATCH):
        conn.execute(insert(table), rows[i:i + BATCH])


def _fill(c: Any) -> None:
    rng = random.Random(SEED)
    for n in range(2, FACILITIES + 1):
        accounts.create_facility(c, f"F{n}", "WA", f"Facility {n}", f"staff{n}@example.org")
        accounts.create_unit(c, f"U-{n}", f"F{n}", f"Unit {n}")
    units = ["U-A", "U-B"] + [f"U-{n}" for n in range(2, FACILITIES + 1)]
    unit_facility = {"U-A": "F1", "U-B": "F1", **{f"U-{n}": f"F{n}"
                                                 for n in range(2, FACILITIES + 1)}}
    start, end = reports.month_bounds(MONTH, "UTC")
    before, after = start - 30 * 86_400, end + 30 * 86_400
    with c.db.write() as conn:
        resident_rows = []
        for i in range(1, RESIDENTS + 1):
            unit = units[i % len(units)]
            resident_rows.append({
                "id": i, "agency_id": f"{900000 + i}", "agency": "WA", "name": f"Resident {i}",
                "facility_id": unit_facility[unit], "unit_id": unit, "language": "en",
                "status": "active", "pin_hash": "x", "pin_must_change": False,
                "failed_logins": 0, "locked_until": 0, "created_at": before})
        _bulk(conn, residents, resident_rows)
        _bulk(conn, contacts, [{
            "id": i, "email": f"family{i}@example.org", "name": f"Family {i}",
            "password_hash": "x", "status": "active", "failed_logins": 0, "locked_until": 0,
            "created_at": before} for i in range(1, FAMILIES + 1)])
        _bulk(conn, ledger_accounts, [
            {"id": f"resident:{i}:prepaid", "unit": "cents", "may_go_negative": False,
             "balance": 0, "expires_at": None, "owner": f"resident:{i}"}
            for i in range(1, RESIDENTS + 1)] + [
            {"id": f"{who}:{i}:stamps", "unit": "stamps", "may_go_negative": False,
             "balance": 0, "expires_at": None, "owner": f"{who}:{i}"}
            for who, n in (("resident", RESIDENTS), ("contact", FAMILIES))
            for i in range(1, n + 1)])
        items = [("song", f"s{i}", None) for i in range(200)] + \
            [("music_video", f"v{i}", None) for i in range(50)] + \
            [("album", f"a{i}", None) for i in range(50)]
        _bulk(conn, catalog, [{
            "id": item_id, "kind": kind, "title": item_id, "artist": "A", "album_id": album,
            "label": "L", "price_cents": 129, "blob_sha256": None, "duration_s": 200,
            "explicit": False, "active": True} for kind, item_id, album in items])
        for lo, hi, n in ((before, start, OTHER_MONTHS_MESSAGES), (start, end, MESSAGES),
                          (end, after, OTHER_MONTHS_MESSAGES)):
            for first in range(0, n, BATCH):
                conn.execute(insert(messages), [{
                    "uid": f"m{lo}-{k}", "resident_id": rng.randrange(1, RESIDENTS + 1),
                    "contact_id": rng.randrange(1, FAMILIES + 1),
                    "direction": "to_resident" if k % 2 else "from_resident",
                    "body": "See you Sunday, love you.", "language": "en",
                    "status": "rejected" if k % 50 == 0 else "delivered", "stamps": 1,
                    "request_digest": "0" * 64, "created_at": rng.randrange(lo, hi),
                    "decided_at": None, "reason_code": None}
                    for k in range(first, min(n, first + BATCH))])
        postings: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        bought: list[dict[str, Any]] = []

        def post(kind: str, key: str, at: int, owner: str,
                 moves: list[tuple[str, int]]) -> None:
            tid = len(postings) + 1  # the ledger's ids grow with time, as the server makes them
            postings.append({"id": tid, "idempotency_key": key, "kind": kind, "memo": kind,
                             "digest": "0" * 64, "created_at": at, "owner": owner})
            entries.extend({"transaction_id": tid, "account_id": account, "amount": amount}
                           for account, amount in moves)

        # the month's purchases and stamp sales, and as many purchases in the
        # months before and after
        for phase, (lo, hi) in enumerate(((before, start), (start, end), (end, after))):
            sales = [("media", k) for k in range(PURCHASES)] + \
                [("stamps", k) for k in range(STAMP_SALES if phase == 1 else 0)]
            rng.shuffle(sales)
            times = sorted(rng.randrange(lo, hi) for _ in sales)
            for (what, k), at in zip(sales, times, strict=True):
                if what == "media":
                    kind, item_id, _ = items[rng.randrange(len(items))]
                    rid = rng.randrange(1, RESIDENTS + 1)
                    key = f"media:{phase}:{k}"
                    post("media_sale", key, at, f"resident:{rid}", [
                        (f"resident:{rid}:prepaid", -129), ("agency:WA:media-sales", 129)])
                    bought.append({"purchase_key": key, "resident_id": rid,
                                   "item_id": item_id, "kind": kind, "price_cents": 129,
                                   "created_at": at})
                    continue
                who = "contact" if k % 2 else "resident"
                number = rng.randrange(1, 2_000 + 1)
                source = "agency:WA:card-clearing" if who == "contact" else \
                    f"resident:{number}:prepaid"
                post("stamp_sale", f"stamps:{k}", at, f"{who}:{number}", [
                    (source, -500), ("agency:WA:stamp-sales", 500),
                    ("agency:WA:stamp-issue", -20), (f"{who}:{number}:stamps", 20)])
        _bulk(conn, ledger_transactions, postings)
        _bulk(conn, ledger_entries, entries)
        _bulk(conn, purchases, bought)
        _bulk(conn, tablets, [{
            "serial": f"JP5S-{k:06d}", "resident_id": k + 1, "facility_id":
            unit_facility[units[(k + 1) % len(units)]], "status": "active",
            "sync_counter": 0, "feed_through": 0, "owners": 1} for k in range(TABLETS)])
        _bulk(conn, tablet_issues, [{
            "serial": f"JP5S-{k:06d}", "resident_id": k + 1,
            "facility_id": unit_facility[units[(k + 1) % len(units)]], "price_cents": 0,
            "issued_at": rng.randrange(start, end)} for k in range(TABLETS)])


def run() -> dict[str, tuple[float, str, str]]:
    with tempfile.TemporaryDirectory(prefix="sallyport-report-") as tmp:
        facility = build(f"sqlite:///{Path(tmp) / 'central.sqlite3'}", Path(tmp))
        c = facility.central
        began = time.perf_counter()
        _fill(c)
        filled = time.perf_counter() - began
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            report = reports.monthly_report(c, MONTH, scope=SYSTEM, agency="WA")
            runs.append(time.perf_counter() - t0)
        c.db.dispose()
    total = report.total
    counted = (total.messages, total.songs + total.albums + total.videos)
    expected = (MESSAGES - MESSAGES // 50, PURCHASES)
    print(f"  filled in {filled:.0f} s; report runs {', '.join(f'{r:.2f}' for r in runs)} s; "
          f"counted {counted}" + ("" if counted == expected else f", NOT {expected}"))
    return {"web.report_month_s": (
        statistics.median(runs), "s",
        f"the monthly report over {MESSAGES:,} messages and {PURCHASES:,} purchases in the "
        "month on SQLite (goal ≤ 2 s)")}


if __name__ == "__main__":
    for name, (value, unit, note) in run().items():
        print(f"{name}: {value:.3f} {unit}  ({note})")
