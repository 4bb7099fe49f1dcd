"""Kiosks: their unit's feeds and blobs (for the store-and-forward cache),
the tablet registry and the sync counters kiosks accepted, delivery states,
and alerts of refused tablets."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import bindparam, select

from central.api.auth import CentralDep, KioskDep
from central.api.blob_io import serve_blob
from central.api.models import (
    AlertIn,
    BlobReceiptIn,
    CounterIn,
    CounterOut,
    Created,
    DeliveryIn,
    DeliveryReceiptIn,
    DraftIn,
    EntitlementOut,
    FeedOut,
    HeadsOut,
    KioskPolicyOut,
    KioskTabletOut,
    RecordsReceiptIn,
    RecordsReceiptOut,
    SentOut,
    VerifiedOut,
)
from central.blobs import check_sha256
from central.errors import InvalidInput, NotFound
from central.schema import (
    attachments,
    catalog,
    entitlements,
    facilities,
    feeds,
    messages,
    residents,
    tablets,
    units,
)
from central.services import alerts, deliveries, legal_mail, media, outbox, sync_counters
from central.services import feeds as feeds_service
from central.services.accounts import policy_of, resident
from central.services.core import Central

router = APIRouter(prefix="/v1/kiosk", tags=["kiosk"])
Id = Annotated[int, Path(ge=1, le=2**53)]


def _own_resident(c: CentralDep, k: KioskDep, resident_id: int) -> None:
    with c.db.read() as conn:
        row = resident(conn, id=resident_id)
    if row.unit_id != k.unit_id:
        raise NotFound(f"no resident {resident_id} on this kiosk's unit")


@router.get("/heads", response_model=HeadsOut)
def heads(k: KioskDep, c: CentralDep) -> HeadsOut:
    """The feed head of every resident on this kiosk's unit: "anything new?" in one call."""
    with c.db.read() as conn:
        rows = conn.execute(select(residents.c.id, feeds.c.head)
                            .join(feeds, feeds.c.feed == ("resident:" + residents.c.id.cast(
                                feeds.c.feed.type)))
                            .where(residents.c.unit_id == k.unit_id)).all()
    return HeadsOut(heads={str(r.id): int(r.head) for r in rows})


# One statement for "anything new?": the resident's unit and feed head together.
_HEAD = (select(residents.c.unit_id, feeds.c.head)
         .join(feeds, feeds.c.feed == bindparam("feed"))
         .where(residents.c.id == bindparam("resident_id")))


def _feed_page(c: Central, unit_id: str, resident_id: int, since: int, limit: int) -> bytes:
    feed = f"resident:{resident_id}"
    with c.db.read() as conn:
        row = conn.execute(_HEAD, {"feed": feed, "resident_id": resident_id}).first()
        if row is None or row.unit_id != unit_id:
            raise NotFound(f"no resident {resident_id} on this kiosk's unit")
        head = int(row.head)
        records = feeds_service.since(conn, feed, since, limit) if head > since else []
    records = legal_mail.open_records(c, records, feed=feed, reader=f"unit:{unit_id}")
    return json.dumps({"head": head, "records": [r.__dict__ for r in records]},
                      separators=(",", ":")).encode()


@router.get("/feeds/{resident_id}", response_model=FeedOut)
async def feed(resident_id: Id, k: KioskDep, c: CentralDep,
               since: Annotated[int, Query(ge=0, le=2**53)] = 0,
               limit: Annotated[int, Query(ge=1, le=500)] = 500) -> Response:
    """A resident's feed records after ``since`` (the kiosk's cursor).

    This is the poll every kiosk makes for every resident, so it is lean: one
    indexed read when nothing is new. On SQLite that read (tens of
    microseconds, never blocked under WAL) runs on the event loop; a database
    across the network is asked from a worker thread."""
    if c.db.dialect == "sqlite":
        body = _feed_page(c, k.unit_id, resident_id, since, limit)
    else:
        body = await run_in_threadpool(_feed_page, c, k.unit_id, resident_id, since, limit)
    return Response(body, media_type="application/json")


@router.get("/blobs/{sha256}", responses={200: {"content": {"application/octet-stream": {}}}})
def blob(sha256: str, k: KioskDep, c: CentralDep) -> Response:
    """A blob of this unit's residents (a delivered message's attachment, or a
    file they are entitled to) by hash; HTTP Range resumes a download."""
    check_sha256(sha256)
    on_unit = select(residents.c.id).where(residents.c.unit_id == k.unit_id)
    with c.db.read() as conn:
        attached = conn.execute(
            select(attachments.c.message_id)
            .join(messages, messages.c.id == attachments.c.message_id)
            .where(attachments.c.blob_sha256 == sha256, messages.c.status == "delivered",
                   attachments.c.state == "delivered",  # never a part staff withheld
                   messages.c.resident_id.in_(on_unit)).limit(1)).first()
        entitled = attached or conn.execute(
            select(entitlements.c.id)
            .join(catalog, catalog.c.id == entitlements.c.item_id)
            .where(catalog.c.blob_sha256 == sha256, entitlements.c.state != "refunded",
                   entitlements.c.resident_id.in_(on_unit)).limit(1)).first()
    if entitled is None:
        raise NotFound(f"no blob {sha256} for this kiosk's unit")
    return serve_blob(c, sha256)


@router.get("/crl", responses={200: {"content": {"application/pkix-crl": {}}}})
def revocation_list(request: Request, k: KioskDep) -> Response:
    """The facility CA's newest revocation list (DER), as the server's ``crl``
    setting names it; kiosks fetch it every round, check it against the CA and
    hand it to tablets at their dock."""
    published = request.app.state.revocation_list
    if published is None:
        raise NotFound("this server publishes no revocation list (set [central] crl)")
    current = published.current()
    return Response(current.der, media_type="application/pkix-crl",
                    headers={"Cache-Control": "no-store", "X-CRL-Number": str(current.number)})


@router.get("/tablets", response_model=list[KioskTabletOut])
def tablet_registry(k: KioskDep, c: CentralDep) -> list[KioskTabletOut]:
    """The tablets of residents on this unit, for the kiosk's pairing checks."""
    with c.db.read() as conn:
        rows = conn.execute(select(tablets, residents.c.agency_id)
                            .join(residents, residents.c.id == tablets.c.resident_id)
                            .where(residents.c.unit_id == k.unit_id)
                            .order_by(tablets.c.serial)).all()
    return [KioskTabletOut(serial=r.serial, resident_id=r.resident_id,
                           resident_agency_id=r.agency_id, status=r.status,
                           sync_counter=r.sync_counter) for r in rows]


@router.get("/policy", response_model=KioskPolicyOut)
def agency_policy(k: KioskDep, c: CentralDep) -> KioskPolicyOut:
    """The agency's prices and tablet rules, as they apply on this kiosk's unit."""
    with c.db.read() as conn:
        agency_id = conn.execute(
            select(facilities.c.agency_id).join(units, units.c.facility_id == facilities.c.id)
            .where(units.c.id == k.unit_id)).scalar_one()
        policy = policy_of(conn, agency_id)
    fields = {name: getattr(policy, name) for name in KioskPolicyOut.model_fields
              if hasattr(policy, name)}
    fields.update({f"request_days_{kind}": days
                   for kind, days in policy.request_deadline_days.items()})
    return KioskPolicyOut(agency_id=agency_id,
                          ticket_resolution_days=c.settings.ticket_resolution_days, **fields)


@router.post("/tablets/{serial}/counter", response_model=CounterOut)
def tablet_counter(serial: Annotated[str, Path(min_length=1, max_length=64)], body: CounterIn,
                   k: KioskDep, c: CentralDep) -> CounterOut:
    """Report the sync counter this kiosk accepted when it paired a tablet of
    its unit: the tablet's counter rises to it, and every kiosk's registry
    learns it. The same report (uid) again gets the first one's answer; any
    other that does not raise the counter is refused (409
    ``counter_not_increasing``)."""
    done = sync_counters.report(c, unit_id=k.unit_id, kiosk_id=k.kiosk_id, serial=serial,
                                counter=body.counter, uid=body.uid)
    return CounterOut(serial=done.serial, counter=done.counter, reported_by=done.reported_by,
                      reported_at=done.reported_at)


@router.post("/receipts/blob", response_model=VerifiedOut)
def blob_receipt(body: BlobReceiptIn, k: KioskDep, c: CentralDep) -> VerifiedOut:
    """Forward a tablet's signed receipt for a whole blob: its owner's purchases
    of that file are verified (a receipt the tablet did not sign is refused).
    Such a receipt names no owner, so it is taken only from a tablet that has
    had one owner (403 ``receipt_names_no_owner`` otherwise); see
    ``/receipts/delivery``."""
    return VerifiedOut(entitlements=deliveries.blob_receipt(
        c, unit_id=k.unit_id, serial=body.serial, sha256=body.sha256,
        signature=_base64(body.signature)))


@router.post("/receipts/delivery", response_model=VerifiedOut)
def delivery_receipt(body: DeliveryReceiptIn, k: KioskDep, c: CentralDep) -> VerifiedOut:
    """Forward a tablet's signed receipt for a whole blob it holds for its owner,
    naming their entitlements to it: those still undelivered are verified. A
    receipt signed for another owner (from before the tablet was reassigned)
    or naming entitlements that are not that owner's to that file is refused."""
    return VerifiedOut(entitlements=deliveries.delivery_receipt(
        c, unit_id=k.unit_id, serial=body.serial, owner=body.owner, sha256=body.sha256,
        entitlement_ids=body.entitlements, signature=_base64(body.signature)))


@router.post("/receipts/records", response_model=RecordsReceiptOut)
def records_receipt(body: RecordsReceiptIn, k: KioskDep, c: CentralDep) -> RecordsReceiptOut:
    """Forward a tablet's signed receipt for its resident's feed: how far it has
    committed, never moved back, and its last dock here (a receipt the tablet
    did not sign is refused)."""
    done = deliveries.records_receipt(
        c, unit_id=k.unit_id, serial=body.serial, session=_base64(body.session, "session"),
        through=body.through, batch_digest=_base64(body.batch_digest, "batch digest"),
        signature=_base64(body.signature), kiosk_id=k.kiosk_id)
    return RecordsReceiptOut(serial=done.serial, through=done.through,
                             last_dock_at=done.last_dock_at)


@router.post("/outbox", status_code=201, response_model=SentOut)
def send_draft(body: DraftIn, k: KioskDep, c: CentralDep) -> SentOut:
    """Forward a resident's draft from their tablet; sent only if that tablet
    signed it, and once however often it is forwarded."""
    done = outbox.send_draft(c, unit_id=k.unit_id, draft=outbox.Draft(
        serial=body.serial, uid=body.uid, resident_agency_id=body.resident_agency_id,
        contact_id=body.contact_id, body=body.body, signature=_base64(body.signature)))
    return SentOut(**done.__dict__)


def _base64(text: str, what: str = "signature") -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:  # ValueError: characters beyond ASCII
        raise InvalidInput(f"the {what} is not base64") from e


@router.post("/alerts", status_code=201, response_model=Created)
def raise_alert(body: AlertIn, k: KioskDep, c: CentralDep) -> Created:
    """Report a refused tablet; the same uid again is stored once."""
    return Created(id=alerts.record(c, k.kiosk_id, alerts.AlertReport(
        uid=body.uid, reason=body.reason, detail=body.detail, tablet_serial=body.tablet_serial,
        resident_agency_id=body.resident_agency_id, resident_name=body.resident_name,
        registered_owner=body.registered_owner, raised_at=body.raised_at)))


@router.post("/entitlements/{entitlement_id}/delivery", response_model=EntitlementOut)
def delivery(entitlement_id: Id, body: DeliveryIn, k: KioskDep, c: CentralDep
             ) -> EntitlementOut:
    """Move a purchase's delivery forward (at kiosk, on tablet, verified)."""
    with c.db.read() as conn:
        owner = conn.execute(select(entitlements.c.resident_id)
                             .where(entitlements.c.id == entitlement_id)).scalar()
    if owner is None:
        raise NotFound(f"no entitlement {entitlement_id}")
    _own_resident(c, k, int(owner))
    e = media.advance(c, entitlement_id, body.state)
    return EntitlementOut(id=e.id, item_id=e.item_id, title=e.title, kind=e.kind,
                          sha256=e.sha256, price_cents=e.price_cents, state=e.state,
                          created_at=e.created_at, updated_at=e.updated_at)
