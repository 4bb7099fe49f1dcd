"""Dates and times on the web pages: in the agency's time zone (the one its
monthly report counts days in, ``PricingPolicy.timezone``), with the zone's
abbreviation wherever a time is shown, written as the page's language
writes them (Babel's CLDR data). Templates use one filter, ``local``:

    {{ ticket.due_at | local }}           Dec 3, 2026, 11:58 PM PST
    {{ ticket.due_at | local("date") }}   Dec 3, 2026
    {{ item.at | local("iso") }}          2026-12-03T23:58:20-08:00 (a <time> attribute)

Whose agency: a staff member's own; a family member's is the agency of the
residents they asked to contact (the first they asked, should those be
several agencies in different zones); a page with nobody logged in (or a
family with no request yet) takes the zone of the agency this server runs
for, or UTC when it runs for several or none.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time, get_datetime_format
from jinja2 import pass_context
from jinja2.runtime import Context
from sqlalchemy import Connection, select

from central.pricing import PricingPolicy
from central.schema import agencies, approvals, residents

STYLES = ("datetime", "date", "iso")
DEFAULT_ZONE = "UTC"


def local(at: int | None, zone: str, language: str, style: str = "datetime") -> str:
    """``at`` (epoch seconds) in ``zone``, for a reader of ``language``:
    ``datetime`` (date, time and the zone's abbreviation), ``date``, or
    ``iso`` (ISO 8601 with the zone's offset, for machines). "" for None.
    Raises ValueError for an unknown style."""
    if style not in STYLES:
        raise ValueError(f"a date's style is one of {', '.join(STYLES)}, not {style!r}")
    if at is None:
        return ""
    tz = ZoneInfo(zone)
    moment = datetime.datetime.fromtimestamp(int(at), tz)
    if style == "iso":
        return moment.isoformat()
    day = format_date(moment.date(), "medium", locale=language)
    if style == "date":
        return day
    time = format_time(moment, "short", tzinfo=tz, locale=language)
    joined = str(get_datetime_format("medium", locale=language)).format(time, day)
    return f"{joined} {moment.tzname()}"


@pass_context
def local_filter(context: Context, at: int | None, style: str = "datetime") -> str:
    """The ``local`` filter: the page's ``zone`` and ``lang``."""
    return local(at, str(context["zone"]), str(context["lang"]), style)


def _zone_of(policy_text: str | None) -> str:
    return PricingPolicy.from_json(policy_text).timezone if policy_text else DEFAULT_ZONE


def agency_zone(conn: Connection, agency_id: str | None) -> str:
    """The agency's time zone; the server's default for no agency."""
    if agency_id is None:
        return server_zone(conn)
    return _zone_of(conn.execute(select(agencies.c.policy).where(
        agencies.c.id == agency_id)).scalar())


def contact_zone(conn: Connection, contact_id: int) -> str:
    """The zone of the agency of the residents a family member asked to
    contact (the first asked); the server's default before any request."""
    agency = conn.execute(select(residents.c.agency).join(
        approvals, approvals.c.resident_id == residents.c.id).where(
        approvals.c.contact_id == contact_id).order_by(approvals.c.id).limit(1)).scalar()
    return agency_zone(conn, None if agency is None else str(agency))


def server_zone(conn: Connection) -> str:
    """The zone of the one agency this server runs for; UTC for several or none."""
    rows = conn.execute(select(agencies.c.policy).limit(2)).scalars().all()
    return _zone_of(rows[0]) if len(rows) == 1 else DEFAULT_ZONE

