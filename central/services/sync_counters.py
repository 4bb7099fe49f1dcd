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

A counter more than ``MAX_COUNTER_JUMP`` (device_security/policy.py) above
the stored one is refused too (``counter_jump``), kept, and raised as an
alert in the staff inbox: a genuine tablet climbs by one a greeting, so such
a jump is a forged hello or a state from elsewhere, which would otherwise
lock the genuine tablet out. Staff who confirm a tablet is genuine raise its
counter themselves (:func:`reset`, scoped and audited); every kiosk's copy
follows it up, and the tablet's next dock is within the bound.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy import Connection, select, update
from sqlalchemy.exc import IntegrityError

from central.database import for_update
from central.errors import Conflict, InvalidInput, NotFound
from central.schema import residents, tablet_counters, tablets
from central.services.accounts import tablet_in_scope
from central.services.alerts import AlertReport, record_in
from central.services.core import Central, audit
from central.services.scope import Scope
from device_security import reasons
from device_security.policy import MAX_COUNTER_JUMP, check_counter_step
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
    is not above the stored one), ``counter_jump`` (it is more than
    MAX_COUNTER_JUMP above it; an alert is raised) or ``uid_reused`` (the uid
    named another report)."""
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
    if not accepted and counter - state.counter > MAX_COUNTER_JUMP:
        raise Conflict(f"tablet {serial}'s sync counter is {state.counter}; {counter} is more "
                       f"than {MAX_COUNTER_JUMP} above it: a forged hello or a state from "
                       "elsewhere (staff have been alerted, and can set the counter of a "
                       "genuine tablet)", code="counter_jump")
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
        row = conn.execute(select(residents.c.unit_id, residents.c.agency_id, residents.c.name)
                           .join(tablets, tablets.c.resident_id == residents.c.id)
                           .where(tablets.c.serial == serial)).first()
        if row is None or row.unit_id != unit_id:
            raise NotFound(f"no tablet {serial} of a resident on this kiosk's unit")
        # One compare-and-set: above the stored counter, and within the bound of it.
        accepted = conn.execute(update(tablets)
                                .where(tablets.c.serial == serial,
                                       tablets.c.sync_counter < counter,
                                       tablets.c.sync_counter >= counter - MAX_COUNTER_JUMP)
                                .values(sync_counter=counter)).rowcount == 1
        conn.execute(tablet_counters.insert().values(
            uid=uid, kiosk_id=kiosk_id, serial=serial, counter=counter, accepted=accepted,
            reported_at=c.clock()))
        state = _state(conn, serial)
        decision = check_counter_step(state.counter, counter)
        jump = not accepted and decision.reason == reasons.COUNTER_JUMP
        audit(conn, c, None, "tablet.counter" if accepted else
              "tablet.counter_jump" if jump else "tablet.counter_refused",
              f"tablet:{serial}", unit=unit_id, counter=counter, kiosk=kiosk_id, uid=uid)
        if jump:
            record_in(conn, kiosk_id, AlertReport(
                uid="counter-jump-" + hashlib.sha256(uid.encode()).hexdigest()[:40],
                reason=reasons.COUNTER_JUMP, detail=decision.detail, tablet_serial=serial,
                resident_agency_id=str(row.agency_id), resident_name=str(row.name),
                registered_owner=f"{row.name} ({row.agency_id})", raised_at=c.clock()))
    if not accepted:
        log.warning("kiosk %s reported tablet %s at sync counter %d, %s %d (from %s)",
                    kiosk_id, printable(serial, 80), counter,
                    f"more than {MAX_COUNTER_JUMP} above" if jump else "not above",
                    state.counter, state.reported_by)
    return accepted, state


def reset(c: Central, serial: str, counter: int, *, scope: Scope) -> CounterState:
    """Staff set the sync counter of a tablet within ``scope`` that they have
    confirmed is genuine (after a ``counter_jump`` refusal: to the counter it
    presented). The counter is only ever raised, so that every kiosk's copy
    of the registry, which follows the server's upward only, takes it.

    Raises NotFound, or InvalidInput for a counter not above the stored one
    or too near the largest a tablet can count to."""
    if not 0 <= counter <= MAX_COUNTER - MAX_COUNTER_JUMP:
        raise InvalidInput(f"a counter to set is 0 to {MAX_COUNTER - MAX_COUNTER_JUMP}")
    with c.db.write() as conn:
        row = conn.execute(for_update(select(tablets).where(tablets.c.serial == serial))).first()
        if row is None or not tablet_in_scope(conn, row, scope):
            raise NotFound(f"no tablet {serial}")
        if counter <= int(row.sync_counter):
            raise InvalidInput(f"tablet {serial}'s sync counter is {row.sync_counter}; a "
                               "counter is only ever raised (every kiosk's registry follows "
                               "it upward only)", code="counter_not_raised")
        conn.execute(update(tablets).where(tablets.c.serial == serial)
                     .values(sync_counter=counter))
        audit(conn, c, scope.staff_id, "tablet.counter_reset", f"tablet:{serial}",
              facility=row.facility_id, resident=row.resident_id,
              old=int(row.sync_counter), new=counter)
        state = _state(conn, serial)
    log.warning("tablet %s: sync counter set to %d by staff %s", printable(serial, 80),
                counter, scope.staff_id)
    return state


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
