"""The monthly report an agency's contract asks of its vendor: per facility
and in total, the tablets given, the songs, albums and videos sold, the
messages carried, the stamps sold, and the agency's commission on each kind
of revenue at its own rates.

Money comes from the ledger (the revenue accounts' entries in the month, each
placed by the person whose account the same posting touched), so the report's
totals are the ledger's; counts come from the rows that name what was sold.
A month runs from midnight on its first day in the agency's time zone."""

from __future__ import annotations

import csv
import datetime
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field, fields
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select

from central import ledger
from central.errors import Forbidden, InvalidInput, NotFound
from central.schema import (
    agencies,
    facilities,
    ledger_entries,
    ledger_transactions,
    messages,
    purchases,
    residents,
    tablet_issues,
)
from central.services.accounts import policy_of
from central.services.core import Central
from central.services.scope import ADMINISTRATOR, Scope

FAMILIES = "families"  # the line of what families bought, which no facility owns
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_REVENUE = ("tablet-sales", "media-sales", "stamp-sales", "stamp-issue")
_MEDIA_KINDS = {"song": "songs", "album": "albums", "music_video": "videos"}


@dataclass
class ReportLine:
    """One facility's month (or the families', or the total). Cents and counts."""

    place: str  # a facility id, FAMILIES, or "total"
    name: str
    tablets_issued: int = 0
    tablet_sales_cents: int = 0
    songs: int = 0
    albums: int = 0
    videos: int = 0
    media_sales_cents: int = 0  # what purchases in the month paid
    media_refunds_cents: int = 0  # what went back in the month (of any month's purchases)
    messages: int = 0  # written in the month and not rejected
    message_stamps: int = 0
    stamps_sold: int = 0
    stamp_sales_cents: int = 0
    commission_tablets_cents: int = 0
    commission_media_cents: int = 0
    commission_stamps_cents: int = 0

    @property
    def media_net_cents(self) -> int:
        return self.media_sales_cents - self.media_refunds_cents

    @property
    def revenue_cents(self) -> int:
        return self.tablet_sales_cents + self.media_net_cents + self.stamp_sales_cents

    @property
    def commission_cents(self) -> int:
        return (self.commission_tablets_cents + self.commission_media_cents
                + self.commission_stamps_cents)

    def add(self, other: ReportLine) -> None:
        for f in fields(self):
            if f.type == "int":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass(frozen=True)
class Rates:
    """The agency's commissions, in basis points (1500 = 15%)."""

    tablets_bps: int
    media_bps: int
    stamps_bps: int


@dataclass(frozen=True)
class MonthlyReport:
    agency: str
    month: str  # YYYY-MM
    timezone: str
    starts_at: int  # epoch seconds, inclusive
    ends_at: int  # exclusive
    rates: Rates
    lines: tuple[ReportLine, ...]
    total: ReportLine = field(compare=False)


def month_bounds(month: str, timezone: str) -> tuple[int, int]:
    """The epoch seconds a month (``YYYY-MM``) begins and ends at in ``timezone``."""
    m = _MONTH.fullmatch(month)
    if m is None or not (1 <= int(m[2]) <= 12) or not (2000 <= int(m[1]) <= 2999):
        raise InvalidInput(f"a month is written YYYY-MM, not {month[:20]!r}")
    year, number = int(m[1]), int(m[2])
    tz = ZoneInfo(timezone)
    start = datetime.datetime(year, number, 1, tzinfo=tz)
    end = datetime.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    return int(start.timestamp()), int(end.timestamp())


def commission(cents: int, bps: int) -> int:
    """The agency's share of ``cents`` at ``bps``, to the nearest cent (half up)."""
    return (cents * bps + 5_000) // 10_000 if cents >= 0 else -((-cents * bps + 5_000) // 10_000)


def monthly_report(c: Central, month: str, *, scope: Scope,
                   agency: str | None = None) -> MonthlyReport:
    """The month's report for the agency ``scope`` belongs to (``agency`` for
    the system scope): every facility of it for an agency administrator, with
    the families' line; a facility administrator's own facility alone.
    Raises Forbidden for staff who are not administrators, InvalidInput for a
    malformed month."""
    if scope.role != ADMINISTRATOR and not scope.is_system:
        raise Forbidden("only an administrator reads the monthly report")
    agency_id = agency if scope.is_system else scope.agency_id
    if agency_id is None or not scope.covers_agency(agency_id):
        raise NotFound(f"no agency {agency}")
    with c.db.read() as conn:
        if conn.execute(select(agencies.c.id).where(agencies.c.id == agency_id)).first() is None:
            raise NotFound(f"no agency {agency_id}")
        policy = policy_of(conn, agency_id)
        start, end = month_bounds(month, policy.timezone)
        places = {str(r.id): str(r.name) for r in conn.execute(
            select(facilities.c.id, facilities.c.name)
            .where(facilities.c.agency_id == agency_id,
                   scope.facilities_clause(facilities.c.id)).order_by(facilities.c.id))}
        lines = {p: ReportLine(p, name) for p, name in places.items()}
        if scope.agency_wide:
            lines[FAMILIES] = ReportLine(FAMILIES, "Families")
        _count(conn, lines, start, end)
        _money(conn, lines, agency_id, start, end)
    rates = Rates(policy.commission_tablets_bps, policy.commission_media_bps,
                  policy.commission_stamps_bps)
    total = ReportLine("total", "Total")
    for line in lines.values():
        line.commission_tablets_cents = commission(line.tablet_sales_cents, rates.tablets_bps)
        line.commission_media_cents = commission(line.media_net_cents, rates.media_bps)
        line.commission_stamps_cents = commission(line.stamp_sales_cents, rates.stamps_bps)
        total.add(line)
    return MonthlyReport(agency_id, month, policy.timezone, start, end, rates,
                         tuple(lines.values()), total)


def _count(conn: Connection, lines: dict[str, ReportLine], start: int, end: int) -> None:
    """Tablets given, purchases by kind and messages carried, per facility."""
    ids = sorted(p for p in lines if p != FAMILIES)
    for facility_id, n in conn.execute(
            select(tablet_issues.c.facility_id, func.count())
            .where(tablet_issues.c.issued_at >= start, tablet_issues.c.issued_at < end,
                   tablet_issues.c.facility_id.in_(ids))
            .group_by(tablet_issues.c.facility_id)):
        lines[facility_id].tablets_issued = int(n)
    for facility_id, kind, n in conn.execute(
            select(residents.c.facility_id, purchases.c.kind, func.count())
            .join(residents, residents.c.id == purchases.c.resident_id)
            .where(purchases.c.created_at >= start, purchases.c.created_at < end,
                   residents.c.facility_id.in_(ids))
            .group_by(residents.c.facility_id, purchases.c.kind)):
        if kind in _MEDIA_KINDS:
            setattr(lines[facility_id], _MEDIA_KINDS[kind], int(n))
    # per resident from the index alone, then placed: a join per message costs 5x more
    carried = conn.execute(
        select(messages.c.resident_id, func.count(), func.sum(messages.c.stamps))
        .where(messages.c.created_at >= start, messages.c.created_at < end,
               messages.c.status != "rejected")
        .group_by(messages.c.resident_id)).all()
    facility_of = _facilities_of(conn, [int(r) for r, _, _ in carried])
    for resident_id, n, stamps in carried:
        line = lines.get(facility_of.get(int(resident_id), ""))
        if line is not None:
            line.messages += int(n)
            line.message_stamps += int(stamps or 0)


def _facilities_of(conn: Connection, ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for first in range(0, len(ids), 10_000):
        found.update((int(i), str(f)) for i, f in conn.execute(
            select(residents.c.id, residents.c.facility_id)
            .where(residents.c.id.in_(ids[first:first + 10_000]))))
    return found


def _money(conn: Connection, lines: dict[str, ReportLine], agency: str,
           start: int, end: int) -> None:
    """The revenue accounts' entries in the month, each placed by its posting's
    owner (a resident's facility, or the families)."""
    accounts = {ledger.agency_account(agency, name).id: name for name in _REVENUE}
    month = (ledger_transactions.c.created_at >= start, ledger_transactions.c.created_at < end)
    sums: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    for owner, account, kind, amount in conn.execute(
            select(ledger_transactions.c.owner, ledger_entries.c.account_id,
                   ledger_transactions.c.kind, func.sum(ledger_entries.c.amount))
            .join(ledger_entries, ledger_entries.c.transaction_id == ledger_transactions.c.id)
            # the month's postings first: the revenue accounts hold every month's entries
            .where(*month, ledger_entries.c.account_id.in_(sorted(accounts)),
                   ledger_entries.c.transaction_id.in_(
                       select(ledger_transactions.c.id).where(*month)))
            .group_by(ledger_transactions.c.owner, ledger_entries.c.account_id,
                      ledger_transactions.c.kind)):
        sums[str(owner)][(accounts[account], str(kind))] = int(amount)
    residents_of = [int(o.split(":")[1]) for o in sums if o.startswith("resident:")]
    facility_of = {f"resident:{i}": f for i, f in _facilities_of(conn, residents_of).items()}
    for owner, amounts in sums.items():
        place = FAMILIES if owner.startswith("contact:") else facility_of.get(owner)
        line = lines.get(place) if place is not None else None
        if line is None:  # a facility or the families' line out of this scope
            continue
        for (account, kind), amount in amounts.items():
            if account == "tablet-sales":
                line.tablet_sales_cents += amount
            elif account == "stamp-sales":
                line.stamp_sales_cents += amount
            elif account == "stamp-issue":
                line.stamps_sold -= amount
            elif kind == "media_sale":
                line.media_sales_cents += amount
            else:
                line.media_refunds_cents -= amount


CSV_COLUMNS = (
    ("place", "Facility"), ("name", "Name"), ("tablets_issued", "Tablets given"),
    ("tablet_sales_cents", "Tablet sales"), ("songs", "Songs sold"),
    ("albums", "Albums sold"), ("videos", "Videos sold"),
    ("media_sales_cents", "Media sales"), ("media_refunds_cents", "Media refunds"),
    ("media_net_cents", "Media net"), ("messages", "Messages"),
    ("message_stamps", "Stamps on messages"), ("stamps_sold", "Stamps sold"),
    ("stamp_sales_cents", "Stamp sales"), ("revenue_cents", "Revenue"),
    ("commission_tablets_cents", "Commission on tablets"),
    ("commission_media_cents", "Commission on media"),
    ("commission_stamps_cents", "Commission on stamps"),
    ("commission_cents", "Commission"),
)


def _cell(line: ReportLine, name: str) -> str:
    value = getattr(line, name)
    if name.endswith("_cents"):
        sign = "-" if value < 0 else ""
        return f"{sign}{abs(value) // 100}.{abs(value) % 100:02d}"
    return str(value)


def to_csv(report: MonthlyReport) -> str:
    """The report as CSV, dollars with cents, one line a facility then the total.
    Names are written as text a spreadsheet will not run as a formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([f"Monthly report {report.month}", report.agency,
                     f"commission on tablets {report.rates.tablets_bps / 100:g}%",
                     f"on media {report.rates.media_bps / 100:g}%",
                     f"on stamps {report.rates.stamps_bps / 100:g}%", report.timezone])
    writer.writerow([title for _, title in CSV_COLUMNS])
    for line in (*report.lines, report.total):
        writer.writerow([_safe(_cell(line, name)) for name, _ in CSV_COLUMNS])
    return out.getvalue()


def _safe(text: str) -> str:
    """A cell a spreadsheet shows as text: a leading =, +, - or @ of a name is
    escaped (numbers keep their minus sign)."""
    if text[:1] in ("=", "+", "@", "\t", "\r") or (text[:1] == "-" and not
                                                     text[1:].replace(".", "").isdigit()):
        return "'" + text
    return text
