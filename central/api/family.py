"""Family members: register, log in, ask to be approved, buy stamps, send
messages with photos and videograms, and read their feed."""

from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select

from central.api.auth import CentralDep, ContactDep, TokenDep, client_address
from central.api.blob_io import read_upload, serve_blob
from central.api.models import (
    ApprovalOut,
    ApprovalRequest,
    BalancesOut,
    BlobOut,
    ContactLogin,
    ContactRegistration,
    Created,
    FamilyMessage,
    FamilyMessageOut,
    FamilyStampPurchase,
    FeedOut,
    FeedRecordOut,
    IdentityFieldsOut,
    OfferOut,
    SentOut,
    SessionOut,
    StampPurchaseOut,
    StorageOut,
)
from central.errors import Forbidden
from central.schema import approvals, attachments, messages, residents
from central.services import accounts, messaging, money, uploads
from central.services.messaging import Attachment, contact_owner

router = APIRouter(prefix="/v1/family", tags=["family"])
Since = Annotated[int, Query(ge=0, le=2**53, description="the last sequence number you have")]
Limit = Annotated[int, Query(ge=1, le=500)]
AgencyQuery = Annotated[str, Query(min_length=1, max_length=32,
                                   pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


@router.post("/accounts", status_code=201, response_model=Created)
def register(body: ContactRegistration, c: CentralDep) -> Created:
    """Create a family account (then log in and ask to be approved). The
    identity fields the agencies here ask for (``/v1/family/identity-fields``)
    are required; a missing or malformed one is refused (422) with ``fields``
    naming each."""
    return Created(id=accounts.register_contact(c, body.email, body.name, body.password,
                                                identity=body.identity.given()))


@router.get("/identity-fields", response_model=IdentityFieldsOut)
def identity_fields(c: CentralDep) -> IdentityFieldsOut:
    """The identity fields sign-up requires (no login needed): those any
    agency on this server asks of family members."""
    return IdentityFieldsOut(required=list(accounts.identity_fields_asked(c)))


@router.post("/sessions", response_model=SessionOut)
def login(body: ContactLogin, c: CentralDep, request: Request) -> SessionOut:
    done = accounts.login_contact(c, body.email, body.password, address=client_address(request))
    return SessionOut(token=done.token, expires_at=done.expires_at)


@router.delete("/sessions", status_code=204)
def logout(_: ContactDep, token: TokenDep, c: CentralDep) -> Response:
    accounts.logout(c, token)
    return Response(status_code=204)


@router.post("/approvals", status_code=201, response_model=Created)
def request_approval(body: ApprovalRequest, me: ContactDep, c: CentralDep) -> Created:
    """Ask to become an approved contact of a resident (staff decide)."""
    return Created(id=accounts.request_approval(c, me, body.resident_agency_id,
                                                body.relationship,
                                                identity=body.identity.given()))


@router.get("/approvals", response_model=list[ApprovalOut])
def my_approvals(me: ContactDep, c: CentralDep) -> list[ApprovalOut]:
    with c.db.read() as conn:
        rows = conn.execute(select(approvals, residents.c.agency_id, residents.c.name)
                            .join(residents, residents.c.id == approvals.c.resident_id)
                            .where(approvals.c.contact_id == me)
                            .order_by(approvals.c.id)).all()
    # No name before staff approve: an ID number someone typed tells them nobody's name.
    return [ApprovalOut(id=r.id, resident_agency_id=r.agency_id,
                        resident_name=r.name if r.status == "approved" else None,
                        relationship=r.relationship, status=r.status) for r in rows]


@router.get("/offers", response_model=list[OfferOut])
def offers(resident_agency_id: AgencyQuery, me: ContactDep, c: CentralDep) -> list[OfferOut]:
    """Stamp bundles and plans sold by the agency of this resident."""
    with c.db.read() as conn:
        res = accounts.resident(conn, agency_id=resident_agency_id)
        policy = accounts.policy_of(conn, str(res.agency))
    return [OfferOut(id=o.id, stamps=o.stamps, price_cents=o.price_cents,
                     valid_days=o.valid_days) for o in policy.offers]


@router.post("/stamps", response_model=StampPurchaseOut)
def buy_stamps(body: FamilyStampPurchase, me: ContactDep, c: CentralDep) -> StampPurchaseOut:
    """Buy stamps by card; the same idempotency key never charges twice."""
    done = money.buy_stamps_for_contact(c, me, resident_agency_id=body.resident_agency_id,
                                        offer_id=body.offer_id, card_token=body.card_token,
                                        key=body.idempotency_key)
    return StampPurchaseOut(**done.__dict__)


@router.get("/stamps", response_model=BalancesOut)
def stamp_balance(resident_agency_id: AgencyQuery, me: ContactDep,
                  c: CentralDep) -> BalancesOut:
    with c.db.read() as conn:
        agency = str(accounts.resident(conn, agency_id=resident_agency_id).agency)
    return BalancesOut(**money.balances(c, contact_owner(me, agency)).__dict__)


@router.post("/blobs", status_code=201, response_model=BlobOut,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                 "image/png": {"schema": {"type": "string", "format": "binary"}},
                 "video/mp4": {"schema": {"type": "string", "format": "binary"}}}}})
async def upload(request: Request, me: ContactDep, c: CentralDep) -> BlobOut:
    """Upload a photo (JPEG, PNG) or a videogram (MP4) before attaching it (an
    approved contact's; streamed to disk, bounded by its type's size and the
    family's storage quota: 413 ``too_large`` or ``over_quota``)."""
    return await read_upload(request, c, allowed=("image/jpeg", "image/png", "video/mp4"),
                             uploader=f"contact:{me}", purpose="message")


@router.get("/storage", response_model=StorageOut)
def storage(me: ContactDep, c: CentralDep) -> StorageOut:
    """How much of your storage quota uploads not yet delivered hold."""
    quota = uploads.storage(c, f"contact:{me}")
    assert quota is not None
    return StorageOut(limit=quota.limit, used=quota.used, left=quota.left,
                      unsent_days=quota.unsent_days)


@router.post("/messages", status_code=201, response_model=SentOut)
def send(body: FamilyMessage, me: ContactDep, c: CentralDep) -> SentOut:
    """Send a message; resending the same uid never sends or charges twice."""
    done = messaging.send_from_contact(
        c, me, uid=body.uid, resident_agency_id=body.resident_agency_id, body=body.body,
        attached=[Attachment(a.kind, a.sha256, a.captions) for a in body.attachments])
    return SentOut(**done.__dict__)


@router.get("/messages", response_model=list[FamilyMessageOut])
def my_messages(me: ContactDep, c: CentralDep,
                page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
                per_page: Annotated[int, Query(ge=1, le=200)] = 50
                ) -> list[FamilyMessageOut]:
    """Your messages, newest first: what you wrote, each part held, delivered or
    withheld by staff with the reason (in English and Spanish), and what
    residents wrote you."""
    return [FamilyMessageOut.model_validate(dataclasses.asdict(m))
            for m in messaging.contact_messages(c, me, page=page, per_page=per_page)]


@router.get("/feed", response_model=FeedOut)
def feed(me: ContactDep, c: CentralDep, since: Since = 0, limit: Limit = 100) -> FeedOut:
    """Messages, notices of held and rejected messages, newer than ``since``."""
    head, records = messaging.feed_page(c, f"contact:{me}", since, limit)
    return FeedOut(head=head, records=[FeedRecordOut(**r.__dict__) for r in records])


@router.get("/blobs/{sha256}", responses={200: {"content": {"application/octet-stream": {}}}})
async def download(sha256: str, request: Request, me: ContactDep, c: CentralDep) -> Response:
    """A photo or videogram of a message to or from you (HTTP Range works)."""
    def allowed() -> bool:
        with c.db.read() as conn:
            return conn.execute(select(attachments.c.message_id)
                                .join(messages, messages.c.id == attachments.c.message_id)
                                .where(attachments.c.blob_sha256 == sha256,
                                       messages.c.contact_id == me,
                                       messages.c.status == "delivered",
                                       attachments.c.state == "delivered").limit(1)
                                ).first() is not None
    from central.blobs import check_sha256
    check_sha256(sha256)
    if not await run_in_threadpool(allowed):
        raise Forbidden("that file is not part of your messages")
    return serve_blob(c, sha256)
