"""What residents and families are owed, by caller: essential requests (the
resident at a kiosk, a tablet's signed request through its kiosk, staff),
attorneys and privileged mail, releases and their archives, price changes
with a second approval, and the terms."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse

from central.api.auth import CentralDep, ContactDep, KioskDep, ResidentDep, StaffMember, staff
from central.api.models import (
    AttorneyDecision,
    AttorneyIn,
    AttorneyOut,
    ClaimIn,
    PayoutIn,
    PayoutQuoteOut,
    PayoutsOut,
    PriceChangeIn,
    PriceChangeOut,
    ReleaseIn,
    ReleaseOut,
    RequestIn,
    RequestOut,
    RequestReplyIn,
    TabletRequestIn,
    TermsAcceptedOut,
    TermsIn,
)
from central.errors import InvalidInput, NotFound, PolicyRefused
from central.services import accounts, essential_requests, legal_mail, prices, release, terms
from central.services.deliveries import signing_tablet
from sync.errors import StatementError
from sync.receipts import request_fields, verify

resident_router = APIRouter(prefix="/v1/resident", tags=["resident"])
kiosk_router = APIRouter(prefix="/v1/kiosk", tags=["kiosk"])
staff_router = APIRouter(prefix="/v1/staff", tags=["staff"])
family_router = APIRouter(prefix="/v1/family", tags=["family"])
Id = Annotated[int, Path(ge=1, le=2**53)]
Admin = Annotated[StaffMember, Depends(staff())]
AnyStaff = Annotated[StaffMember, Depends(staff(*accounts.STAFF_ROLES))]
StatusQuery = Annotated[str | None, Query(max_length=16)]


def _signature(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise InvalidInput("the signature is not base64") from e


def _out(v: essential_requests.RequestView) -> RequestOut:
    return RequestOut(**{k: val for k, val in v.__dict__.items() if k != "resident_id"})


# -- essential requests ------------------------------------------------------------


@resident_router.post("/requests", status_code=201, response_model=RequestOut)
def file_request(body: RequestIn, me: ResidentDep, k: KioskDep, c: CentralDep) -> RequestOut:
    """File an essential request; the answer carries its receipt number. The
    same uid again files nothing twice."""
    return _out(essential_requests.file(
        c, me, uid=body.uid, type_=body.type, body=body.body, source="kiosk",
        kiosk_id=k.kiosk_id, kiosk_reference=body.kiosk_reference, written_at=body.written_at))


@resident_router.get("/requests", response_model=list[RequestOut])
def my_requests(me: ResidentDep, c: CentralDep) -> list[RequestOut]:
    return [_out(v) for v in essential_requests.list_for_resident(c, me)]


@resident_router.get("/requests/{request_id}", response_model=RequestOut)
def my_request(request_id: Id, me: ResidentDep, c: CentralDep) -> RequestOut:
    return _out(essential_requests.view(c, request_id, resident_id=me))


@kiosk_router.post("/requests", status_code=201, response_model=RequestOut)
def tablet_request(body: TabletRequestIn, k: KioskDep, c: CentralDep) -> RequestOut:
    """Forward an essential request a resident wrote on their tablet: filed
    only if that tablet signed it, and once however often it is forwarded."""
    tablet = signing_tablet(c, unit_id=k.unit_id, serial=body.serial)
    if tablet.resident_agency_id != body.resident_agency_id:
        raise NotFound(f"tablet {body.serial} is not the tablet of resident "
                       f"{body.resident_agency_id} on this kiosk's unit")
    try:
        verify(tablet.key, "request", request_fields(
            serial=body.serial, uid=body.uid, resident=body.resident_agency_id,
            type_=body.type, body=body.body, written_at=body.written_at),
            _signature(body.signature))
    except StatementError as e:
        raise PolicyRefused(f"the request is not signed by tablet {body.serial}",
                            code="bad_signature") from e
    return _out(essential_requests.file(
        c, tablet.resident_id, uid=body.uid, type_=body.type, body=body.body, source="tablet",
        kiosk_id=k.kiosk_id, tablet_serial=body.serial, written_at=body.written_at or None))


@staff_router.get("/requests", response_model=list[RequestOut])
def staff_requests(me: AnyStaff, c: CentralDep, status: StatusQuery = None) -> list[RequestOut]:
    """Essential requests in your reach, due soonest first (PREA reports only
    for the readers the agency names)."""
    essential_requests.escalate_due(c)
    return [_out(v) for v in essential_requests.list_for_staff(c, scope=me.scope,
                                                               status=status)]


@staff_router.get("/requests/{request_id}", response_model=RequestOut)
def staff_request(request_id: Id, me: AnyStaff, c: CentralDep) -> RequestOut:
    return _out(essential_requests.view(c, request_id, scope=me.scope))


@staff_router.post("/requests/{request_id}/replies", response_model=RequestOut)
def answer_request(request_id: Id, body: RequestReplyIn, me: AnyStaff,
                   c: CentralDep) -> RequestOut:
    return _out(essential_requests.reply(c, request_id, scope=me.scope, text=body.text,
                                         resolve=body.resolve))


# -- terms -----------------------------------------------------------------------------


@resident_router.post("/terms", response_model=TermsAcceptedOut)
def accept_terms(body: TermsIn, me: ResidentDep, k: KioskDep, c: CentralDep) -> TermsAcceptedOut:
    """Record that the resident accepted these terms (the exact text shown,
    its SHA-256 kept); the text reaches their tablet through their feed."""
    return TermsAcceptedOut(**terms.accept(c, me, text=body.text, language=body.language,
                                           kiosk_id=k.kiosk_id).__dict__)


@resident_router.get("/terms", response_model=list[TermsAcceptedOut])
def accepted_terms(me: ResidentDep, c: CentralDep) -> list[TermsAcceptedOut]:
    """The terms texts the resident accepted, by their SHA-256."""
    return [TermsAcceptedOut(**a.__dict__) for a in terms.accepted(c, me)]


# -- prices --------------------------------------------------------------------------


@staff_router.post("/price-changes", status_code=201, response_model=PriceChangeOut)
def propose_price(body: PriceChangeIn, me: Admin, c: CentralDep) -> PriceChangeOut:
    """Propose a price change: it takes effect at ``effective_at`` (announced
    at least the agency's notice days before) once another agency
    administrator approves it."""
    return PriceChangeOut(**prices.propose(
        c, target=body.target, new_value=body.new_value, effective_at=body.effective_at,
        scope=me.scope, agency_id=body.agency_id).__dict__)


@staff_router.post("/price-changes/{change_id}/approval", response_model=PriceChangeOut)
def approve_price(change_id: Id, me: Admin, c: CentralDep) -> PriceChangeOut:
    """Approve another administrator's proposal."""
    return PriceChangeOut(**prices.approve(c, change_id, scope=me.scope).__dict__)


@staff_router.get("/price-changes", response_model=list[PriceChangeOut])
def price_history(me: Admin, c: CentralDep) -> list[PriceChangeOut]:
    """Every price change, newest first: the history."""
    return [PriceChangeOut(**p.__dict__) for p in prices.history(c, scope=me.scope)]


@resident_router.get("/price-changes", response_model=list[PriceChangeOut])
def coming_prices(me: ResidentDep, c: CentralDep) -> list[PriceChangeOut]:
    """Approved price changes not in effect yet: "from <date> this costs ..."."""
    with c.db.read() as conn:
        agency = str(accounts.resident(conn, id=me).agency)
    return [PriceChangeOut(**p.__dict__) for p in prices.upcoming(c, agency)]


# -- attorneys ------------------------------------------------------------------------


@family_router.post("/attorney", status_code=201, response_model=AttorneyOut)
def register_attorney(body: AttorneyIn, me: ContactDep, c: CentralDep) -> AttorneyOut:
    """Ask to be registered as an attorney with an agency (staff verify the
    bar number); mail with your clients is then privileged."""
    return AttorneyOut(**legal_mail.apply(c, me, agency_id=body.agency_id,
                                          bar_number=body.bar_number,
                                          jurisdiction=body.jurisdiction).__dict__)


@family_router.get("/attorney", response_model=AttorneyOut)
def my_registration(me: ContactDep, c: CentralDep) -> AttorneyOut:
    return AttorneyOut(**legal_mail.attorney(c, me).__dict__)


@staff_router.get("/attorneys", response_model=list[AttorneyOut])
def attorney_registry(me: Admin, c: CentralDep) -> list[AttorneyOut]:
    """The agency's registry of attorneys, pending first."""
    return [AttorneyOut(**a.__dict__) for a in legal_mail.registry(c, scope=me.scope)]


@staff_router.post("/attorneys/{contact_id}/decision", response_model=AttorneyOut)
def decide_attorney(contact_id: Id, body: AttorneyDecision, me: Admin,
                    c: CentralDep) -> AttorneyOut:
    """Verify an attorney (after checking the bar number), or revoke one."""
    return AttorneyOut(**legal_mail.decide(c, contact_id, verified=body.verified,
                                           scope=me.scope).__dict__)


# -- release ----------------------------------------------------------------------------

AgencyId = Annotated[str, Path(min_length=1, max_length=32,
                               pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


@staff_router.post("/residents/{resident_id}/release", status_code=201,
                   response_model=ReleaseOut)
def release_resident(resident_id: Id, body: ReleaseIn, me: Admin, c: CentralDep) -> ReleaseOut:
    """Release a resident: the account moves to released, the archive is kept
    for the agency's retention period, and the answer carries the claim code
    (shown once) for the resident's own family-side login."""
    return ReleaseOut(**release.release(c, resident_id, scope=me.scope,
                                        designee_contact_id=body.designee_contact_id).__dict__)


@family_router.post("/released/claim", response_model=ReleaseOut)
def claim_release(body: ClaimIn, me: ContactDep, c: CentralDep) -> ReleaseOut:
    """A released resident links this account with the code from their release."""
    return ReleaseOut(**release.claim(c, me, agency_id=body.agency_id, code=body.code).__dict__)


@family_router.get("/released/{agency_id}/archive",
                   responses={200: {"content": {"application/zip": {}}}})
def released_archive(agency_id: AgencyId, me: ContactDep, c: CentralDep) -> StreamingResponse:
    """The released resident's whole archive (messages, photos, videograms,
    purchased files) as a zip, streamed; for the resident and the family
    member they named, until the retention period ends."""
    chunks = release.archive_stream(c, me, agency_id)
    return StreamingResponse(chunks, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="archive-{agency_id}.zip"'})


Technician = Annotated[StaffMember, Depends(staff("technician"))]


@kiosk_router.get("/released/{agency_id}/archive",
                  responses={200: {"content": {"application/zip": {}}}})
def released_archive_for_usb(agency_id: AgencyId, me: Technician, k: KioskDep,
                             c: CentralDep) -> StreamingResponse:
    """A released resident's whole archive as a zip, for the USB stick a
    technician (or an administrator) signed in at a kiosk of their facility
    makes at the maintenance menu; audited with the kiosk and the staff member."""
    chunks = release.archive_for_usb(c, agency_id, scope=me.scope, kiosk_id=k.kiosk_id,
                                     kiosk_unit=k.unit_id)
    return StreamingResponse(chunks, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="archive-{agency_id}.zip"'})


@family_router.get("/released/{agency_id}/payout", response_model=PayoutsOut)
def payout_options(agency_id: AgencyId, me: ContactDep, c: CentralDep) -> PayoutsOut:
    """The prepaid balance and every way it can leave, each fee shown."""
    balance, quotes = release.quotes(c, me, agency_id)
    return PayoutsOut(balance_cents=balance,
                      options=[PayoutQuoteOut(**q.__dict__) for q in quotes])


@family_router.post("/released/{agency_id}/payout", response_model=ReleaseOut)
def pay_out(agency_id: AgencyId, body: PayoutIn, me: ContactDep, c: CentralDep) -> ReleaseOut:
    """Choose how the balance leaves, with the fee you were shown."""
    return ReleaseOut(**release.pay_out(c, me, agency_id, option=body.option,
                                        expected_fee_cents=body.expected_fee_cents).__dict__)
