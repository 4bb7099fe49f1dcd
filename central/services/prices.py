"""Price changes: one agency administrator proposes, a different one approves,
and the change takes effect at a time announced in advance, so residents
see "from <date> this costs ..." before it applies. Every change is kept.

What can change: a catalog item's price (``catalog:<id>``), a stamp rate of
the agency (``stamps:stamps_per_message`` and the others) or the price of
one of its stamp offers (``offer:<id>``). A public-domain item is never
priced above zero, at add or by any change.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, or_, select, update

from central.database import for_update
from central.errors import Conflict, InvalidInput, NotFound, PolicyRefused
from central.pricing import PricingPolicy, check_license_price, stamp_prices
from central.schema import agencies, catalog, price_changes
from central.services.accounts import policy_of
from central.services.core import Central, audit
from central.services.scope import Scope

log = logging.getLogger(__name__)
MAX_VALUE = 100_000


@dataclass(frozen=True)
class PriceChange:
    id: int
    agency_id: str | None
    target: str
    old_value: int
    new_value: int
    status: str  # proposed, approved, applied
    proposed_by: int | None
    proposed_at: int
    approved_by: int | None
    approved_at: int | None
    effective_at: int
    applied_at: int | None


def _with_price(policy: PricingPolicy, target: str, value: int) -> PricingPolicy:
    kind, _, name = target.partition(":")
    if kind == "stamps":
        values: dict[str, Any] = {name: value}
        return dataclasses.replace(policy, **values)
    offers = tuple(dataclasses.replace(o, price_cents=value) if o.id == name else o
                   for o in policy.offers)
    return dataclasses.replace(policy, offers=offers)


def _current(conn: Connection, target: str, agency_id: str | None) -> tuple[int, str | None]:
    """The value ``target`` has now, and the agency it belongs to (None: the
    catalog, which every agency shares). Raises NotFound, InvalidInput."""
    kind, _, name = target.partition(":")
    if kind == "catalog":
        row = conn.execute(select(catalog.c.price_cents, catalog.c.license, catalog.c.kind)
                           .where(catalog.c.id == name)).first()
        if row is None:
            raise NotFound(f"no catalog item {name}")
        return int(row.price_cents), None
    if kind in ("stamps", "offer"):
        if agency_id is None:
            raise InvalidInput("a stamp price change names its agency")
        prices = stamp_prices(policy_of(conn, agency_id))
        if target not in prices:
            raise NotFound(f"agency {agency_id} has no price {target}")
        return prices[target], agency_id
    raise InvalidInput("a target is catalog:<id>, stamps:<rate> or offer:<id>",
                       code="bad_target")


def _row(r: object) -> PriceChange:
    return PriceChange(*(getattr(r, f.name) for f in dataclasses.fields(PriceChange)))


def propose(c: Central, *, target: str, new_value: int, effective_at: int, scope: Scope,
            agency_id: str | None = None) -> PriceChange:
    """Propose a price change (an agency administrator's). It takes effect
    only once another agency administrator approves it, at ``effective_at``,
    which must be at least the agency's ``price_notice_days`` away. Raises
    Forbidden, NotFound, InvalidInput, PolicyRefused."""
    scope.agency_level("propose a price change")
    if not (0 <= new_value <= MAX_VALUE):
        raise InvalidInput(f"a price is 0 to {MAX_VALUE}")
    at = c.clock()
    with c.db.write() as conn:
        if agency_id is not None:
            scope.agency(agency_id, f"agency {agency_id}")
        old, owner = _current(conn, target, agency_id)
        if target.startswith("catalog:"):
            license_ = conn.execute(select(catalog.c.license).where(
                catalog.c.id == target.partition(":")[2])).scalar_one()
            check_license_price(str(license_), new_value)
        if target.startswith("offer:") and new_value <= 0:
            raise InvalidInput("a stamp offer costs something")
        if new_value == old:
            raise InvalidInput(f"{target} costs {old} already", code="no_change")
        notice = policy_of(conn, str(owner or scope.agency_id)).price_notice_days \
            if (owner or scope.agency_id) else 7
        if effective_at < at + notice * 86400:
            raise PolicyRefused(f"a price change is announced at least {notice} days before "
                                "it takes effect", code="notice_too_short")
        change_id = int(conn.execute(price_changes.insert().values(
            agency_id=owner, target=target, old_value=old, new_value=new_value,
            status="proposed", proposed_by=scope.staff_id, proposed_at=at,
            effective_at=effective_at).returning(price_changes.c.id)).scalar_one())
        audit(conn, c, scope.staff_id, "price.propose", f"price:{change_id}", agency=owner,
              price=target, old=old, new=new_value, effective_at=effective_at)
        return _row(conn.execute(select(price_changes).where(
            price_changes.c.id == change_id)).one())


def approve(c: Central, change_id: int, *, scope: Scope) -> PriceChange:
    """The second agency administrator's approval. Raises PolicyRefused when
    the proposer approves their own change or its announcement would now be
    too short, Conflict when it is not waiting for approval."""
    scope.agency_level("approve a price change")
    at = c.clock()
    with c.db.write() as conn:
        row = conn.execute(for_update(select(price_changes).where(
            price_changes.c.id == change_id))).first()
        if row is None or (row.agency_id is not None and not scope.covers_agency(
                row.agency_id)):
            raise NotFound(f"no price change {change_id}")
        if row.status != "proposed":
            raise Conflict(f"price change {change_id} is {row.status}", code="not_proposed")
        if row.proposed_by == scope.staff_id:
            raise PolicyRefused("a price change is approved by another agency administrator "
                                "than the one who proposed it",
                                code="second_administrator_needed")
        notice = policy_of(conn, str(row.agency_id or scope.agency_id)).price_notice_days \
            if (row.agency_id or scope.agency_id) else 7
        if row.effective_at < at + notice * 86400:
            raise PolicyRefused(f"too late: residents must see it {notice} days before it "
                                "takes effect; propose it again with a later date",
                                code="notice_too_short")
        conn.execute(update(price_changes).where(price_changes.c.id == change_id).values(
            status="approved", approved_by=scope.staff_id, approved_at=at))
        audit(conn, c, scope.staff_id, "price.approve", f"price:{change_id}",
              agency=row.agency_id, price=row.target, new=row.new_value)
        return _row(conn.execute(select(price_changes).where(
            price_changes.c.id == change_id)).one())


def apply_due(c: Central) -> list[int]:
    """Apply every approved change whose time has come (the sweep's step)."""
    at = c.clock()
    done = []
    with c.db.write() as conn:
        rows = conn.execute(for_update(select(price_changes).where(
            price_changes.c.status == "approved", price_changes.c.effective_at <= at)
            .order_by(price_changes.c.effective_at, price_changes.c.id))).all()
        for r in rows:
            kind, _, name = str(r.target).partition(":")
            if kind == "catalog":
                conn.execute(update(catalog).where(catalog.c.id == name)
                             .values(price_cents=r.new_value))
            else:
                policy = _with_price(policy_of(conn, str(r.agency_id)), r.target, r.new_value)
                conn.execute(update(agencies).where(agencies.c.id == r.agency_id)
                             .values(policy=policy.to_json()))
            conn.execute(update(price_changes).where(price_changes.c.id == r.id)
                         .values(status="applied", applied_at=at))
            audit(conn, c, None, "price.apply", f"price:{r.id}", agency=r.agency_id,
                  price=r.target, old=r.old_value, new=r.new_value)
            log.info("price change %s: %s is now %s", r.id, r.target, r.new_value)
            done.append(int(r.id))
    return done


def upcoming(c: Central, agency_id: str) -> list[PriceChange]:
    """Approved changes not yet in effect that concern an agency's residents
    (its stamps and the catalog): what they are shown before it applies."""
    with c.db.read() as conn:
        rows = conn.execute(select(price_changes).where(
            price_changes.c.status == "approved",
            or_(price_changes.c.agency_id == agency_id, price_changes.c.agency_id.is_(None)))
            .order_by(price_changes.c.effective_at, price_changes.c.id)).all()
    return [_row(r) for r in rows]


def history(c: Central, *, scope: Scope, target: str | None = None) -> list[PriceChange]:
    """Every change (proposed, approved, applied) of the catalog and of the
    agencies in reach, newest first."""
    query = select(price_changes).order_by(price_changes.c.id.desc()).limit(500)
    if not scope.is_system:
        query = query.where(or_(price_changes.c.agency_id.is_(None),
                                price_changes.c.agency_id == scope.agency_id))
    if target is not None:
        query = query.where(price_changes.c.target == target)
    with c.db.read() as conn:
        return [_row(r) for r in conn.execute(query).all()]
