"""Tablets' sync counters, as the kiosks that paired them saw them.

A tablet raises its sync counter before every dock, and a kiosk pairs it only
if the counter is above the last one its copy of the registry holds
(device_security.policy). Each kiosk reports the counter it accepted; the
server keeps the highest in ``tablets.sync_counter``, which every kiosk's
copy of the registry follows, so a copy of a tablet replaying a counter seen
at one kiosk is refused at all the others.

A report carries a uid the kiosk made. The same report again (a retry after a
lost answer) gets the answer the first one got: a retry never looks like a
clone. Any other report whose counter is not above the stored one is refused
(``counter_not_increasing``) and kept with who made it: two kiosks accepted
the same counter (a copy of the tablet docked at the second before it heard
of the first dock), or a kiosk that was offline reports after a later dock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from central.errors import Conflict, InvalidInput, NotFound
from central.schema import residents, tablet_counters, tablets
from central.services.core import Central, audit
from device_security.text import printable

log = logging.getLogger(__name__)
MAX_COUNTER = 2**63 - 1  # a tablet's hello carries at most this (device_security.pairing)


@dataclass(frozen=True)
class CounterState:
    serial: str
    counter: int  # the tablet's sync counter as the server holds it now
    reported_by: str | None  # the kiosk whose report set it; None before any report
    reported_at: int | None


def report(c: Central, *, unit_id: str, kiosk_id: str, serial: str, counter: int,
           uid: str) -> CounterState:
    """Kiosk ``kiosk_id`` on ``unit_id`` paired tablet ``serial`` at ``counter``:
    the tablet's counter rises to it (one compare-and-set). Returns the state
    after the report, or after the first report with this uid.

    Raises InvalidInput (a uid or counter out of range), NotFound (no tablet of
    a resident on this unit), Conflict ``counter_not_increasing`` (the counter
    is not above the stored one) or ``uid_reused`` (the uid named another
    report)."""
    if not (8 <= len(uid) <= 64):
        raise InvalidInput("a report uid is 8-64 characters")
    if not 0 <= counter <= MAX_COUNTER:
        raise InvalidInput(f"a sync counter is 0 to {MAX_COUNTER}, not {counter}")
    try:
        accepted, state = _record(c, unit_id, kiosk_id, serial, counter, uid)
    except IntegrityError:
        # The same report, stored by another request between our look and our insert.
        with c.db.read() as conn:
            earlier = _earlier(conn, kiosk_id, uid, serial, counter)
            if earlier is None:
                raise
            accepted, state = earlier, _state(conn, serial)
    if not accepted:
        by = f", reported by kiosk {state.reported_by}" if state.reported_by else ""
        raise Conflict(f"tablet {serial}'s sync counter is {state.counter}{by}; {counter} is "
                       "not above it: a copy of this tablet, or a report from before a later "
                       "dock", code="counter_not_increasing")
    return state


def _record(c: Central, unit_id: str, kiosk_id: str, serial: str, counter: int,
            uid: str) -> tuple[bool, CounterState]:
    with c.db.write() as conn:
        earlier = _earlier(conn, kiosk_id, uid, serial, counter)
        if earlier is not None:
            return earlier, _state(conn, serial)
        row = conn.execute(select(residents.c.unit_id)
                           .join(tablets, tablets.c.resident_id == residents.c.id)
                           .where(tablets.c.serial == serial)).first()
        if row is None or row.unit_id != unit_id:
            raise NotFound(f"no tablet {serial} of a resident on this kiosk's unit")
        accepted = conn.execute(update(tablets)
                                .where(tablets.c.serial == serial,
                                       tablets.c.sync_counter < counter)
                                .values(sync_counter=counter)).rowcount == 1
        conn.execute(tablet_counters.insert().values(
            uid=uid, kiosk_id=kiosk_id, serial=serial, counter=counter, accepted=accepted,
            reported_at=c.clock()))
        audit(conn, c, None, "tablet.counter" if accepted else "tablet.counter_refused",
              f"tablet:{serial}", unit=unit_id, counter=counter, kiosk=kiosk_id, uid=uid)
        state = _state(conn, serial)
    if not accepted:
        log.warning("kiosk %s reported tablet %s at sync counter %d, not above %d (from %s)",
                    kiosk_id, printable(serial, 80), counter, state.counter,
                    state.reported_by)
    return accepted, state


def _earlier(conn: Connection, kiosk_id: str, uid: str, serial: str,
             counter: int) -> bool | None:
    """Whether this kiosk's report ``uid`` was accepted; None if it is new.
    Raises Conflict if the uid named another report."""
    row = conn.execute(select(tablet_counters).where(tablet_counters.c.kiosk_id == kiosk_id,
                                                     tablet_counters.c.uid == uid)).first()
    if row is None:
        return None
    if (row.serial, row.counter) != (serial, counter):
        raise Conflict(f"report {uid} was tablet {row.serial} at counter {row.counter}",
                       code="uid_reused")
    return bool(row.accepted)


def _state(conn: Connection, serial: str) -> CounterState:
    stored = int(conn.execute(select(tablets.c.sync_counter)
                              .where(tablets.c.serial == serial)).scalar_one())
    by = conn.execute(select(tablet_counters.c.kiosk_id, tablet_counters.c.reported_at)
                      .where(tablet_counters.c.serial == serial,
                             tablet_counters.c.counter == stored, tablet_counters.c.accepted)
                      .limit(1)).first()
    return CounterState(serial, stored, by.kiosk_id if by else None,
                        int(by.reported_at) if by else None)
