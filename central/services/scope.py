"""What a staff member may see and change: the facility they work at, or,
for an agency administrator, every facility of their agency; never another
agency's. Every service function staff reach takes a :class:`Scope` and
keeps to it; a row outside it answers exactly as a missing one does
(NotFound), so ids cannot be probed.

The checks are pure: a scope is made once per request from the staff
member's row (:func:`scope_of`) and then only compared with values."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, false, select, true

from central.errors import Forbidden, NotFound, Unauthenticated
from central.schema import facilities, staff, units

ADMINISTRATOR = "administrator"


@dataclass(frozen=True)
class Scope:
    """A staff member's reach. ``facility_id`` None: an agency administrator
    (the whole agency). :meth:`system` is for the command line and seeding
    only: it reaches everything and is never made from a request."""

    staff_id: int | None
    role: str
    agency_id: str | None
    facility_id: str | None
    facility_ids: frozenset[str]
    unit_ids: frozenset[str]
    is_system: bool = False

    @classmethod
    def system(cls) -> Scope:
        return cls(None, ADMINISTRATOR, None, None, frozenset(), frozenset(), is_system=True)

    @property
    def agency_wide(self) -> bool:
        """An agency administrator (or the system)."""
        return self.is_system or (self.role == ADMINISTRATOR and self.facility_id is None)

    def covers_agency(self, agency_id: str | None) -> bool:
        return self.is_system or (agency_id is not None and agency_id == self.agency_id)

    def covers_facility(self, facility_id: object) -> bool:
        return self.is_system or (isinstance(facility_id, str)
                                  and facility_id in self.facility_ids)

    def covers_unit(self, unit_id: object) -> bool:
        return self.is_system or (isinstance(unit_id, str) and unit_id in self.unit_ids)

    def facility(self, facility_id: object, what: str) -> None:
        """Raises NotFound (as for a missing ``what``) outside the scope."""
        if not self.covers_facility(facility_id):
            raise NotFound(f"no {what}")

    def unit(self, unit_id: object, what: str) -> None:
        if not self.covers_unit(unit_id):
            raise NotFound(f"no {what}")

    def agency(self, agency_id: str | None, what: str) -> None:
        if not self.covers_agency(agency_id):
            raise NotFound(f"no {what}")

    def agency_level(self, action: str) -> None:
        """Raises Forbidden unless this is an agency administrator: for what
        applies to every facility of the agency (its prices, its keyword lists,
        the catalog, agency administrators)."""
        if not self.agency_wide:
            raise Forbidden(f"only an agency administrator may {action}")

    def facilities_clause(self, column: ColumnElement[str]) -> ColumnElement[bool]:
        """A WHERE clause keeping rows whose ``column`` (a facility id) is in scope."""
        if self.is_system:
            return true()
        return column.in_(sorted(self.facility_ids)) if self.facility_ids else false()

    def units_clause(self, column: ColumnElement[str]) -> ColumnElement[bool]:
        if self.is_system:
            return true()
        return column.in_(sorted(self.unit_ids)) if self.unit_ids else false()


def scope_of(conn: Connection, staff_id: int) -> Scope:
    """The scope of a staff member, from their row. Raises Unauthenticated for
    a disabled or unknown account."""
    row = conn.execute(select(staff).where(staff.c.id == staff_id)).first()
    if row is None or row.status != "active":
        raise Unauthenticated("this staff account is disabled; ask an administrator")
    facility_id = row.facility_id
    if facility_id is not None:
        ids: Iterable[str] = [str(facility_id)]
    else:
        ids = conn.execute(select(facilities.c.id).where(
            facilities.c.agency_id == row.agency_id)).scalars().all()
    facility_ids = frozenset(str(i) for i in ids)
    unit_ids = frozenset(str(u) for u in conn.execute(select(units.c.id).where(
        units.c.facility_id.in_(sorted(facility_ids)))).scalars().all()) \
        if facility_ids else frozenset()
    return Scope(int(row.id), str(row.role), str(row.agency_id), facility_id, facility_ids,
                 unit_ids)
