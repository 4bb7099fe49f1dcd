"""Facility staff: review held messages, keyword lists, contact approvals,
the alerts inbox, trouble tickets, residents, tablets, kiosks, the catalog,
the audit log and archive export. Each route names the roles it admits."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from central.api.auth import CentralDep, StaffMember, TokenDep, client_address, staff
from central.api.blob_io import read_upload, serve_blob
from central.api.models import (
    AckIn,
    AlertOut,
    ApprovalDecision,
    AssignIn,
    AuditOut,
    BlobOut,
    CatalogItemIn,
    CounterOut,
    CounterResetIn,
    Created,
    DecidedOut,
    Decision,
    HoldOut,
    KeywordListIn,
    KeywordListOut,
    KioskIn,
    KioskStatusIn,
    MonthlyReportOut,
    NewResidentOut,
    NoteIn,
    PartsDecision,
    PinResetOut,
    PolicyBody,
    ReplyIn,
    ReportLineOut,
    ResidentIn,
    ReviewQueueOut,
    SessionOut,
    StaffApprovalOut,
    StaffIn,
    StaffLogin,
    StaffStatusIn,
    TabletIn,
    TabletStatusIn,
    TicketOut,
)
from central.errors import InvalidInput
from central.pricing import PricingPolicy
from central.rejections import REASONS
from central.schema import approvals, audit_log, contacts, residents
from central.services import (
    accounts,
    alerts,
    archive,
    media,
    reports,
    review,
    screening_lists,
    sync_counters,
    tickets,
)
from central.services.core import audit_visible

router = APIRouter(prefix="/v1/staff", tags=["staff"])
Id = Annotated[int, Path(ge=1, le=2**53)]
Reviewer = Annotated[StaffMember, Depends(staff("reviewer"))]
Technician = Annotated[StaffMember, Depends(staff("technician"))]
Admin = Annotated[StaffMember, Depends(staff())]
Watcher = Annotated[StaffMember, Depends(staff("technician", "investigator"))]
Investigator = Annotated[StaffMember, Depends(staff("investigator"))]
StatusQuery = Annotated[str, Query(max_length=16)]


@router.post("/sessions", response_model=SessionOut)
def login(body: StaffLogin, c: CentralDep, request: Request) -> SessionOut:
    done = accounts.login_staff(c, body.username, body.password,
                                address=client_address(request))
    return SessionOut(token=done.token, expires_at=done.expires_at)


@router.delete("/sessions", status_code=204)
def logout(me: Annotated[StaffMember, Depends(staff(*accounts.STAFF_ROLES))], token: TokenDep,
           c: CentralDep) -> Response:
    accounts.logout(c, token)
    return Response(status_code=204)


# -- review --------------------------------------------------------------------


@router.get("/holds", response_model=list[HoldOut])
def holds(me: Reviewer, c: CentralDep, status: StatusQuery = "open") -> list[HoldOut]:
    """Held messages, oldest first."""
    return [HoldOut(**h.__dict__) for h in review.list_holds(c, status, scope=me.scope)]


@router.get("/holds/{hold_id}", response_model=HoldOut)
def hold(hold_id: Id, me: Reviewer, c: CentralDep) -> HoldOut:
    """One held message, with a translation into the working language when one
    is available (or a plain note saying why not)."""
    return HoldOut(**review.get_hold(c, hold_id, scope=me.scope).__dict__)


@router.get("/review-queue", response_model=ReviewQueueOut)
def review_queue(me: Reviewer, c: CentralDep,
                 page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
                 per_page: Annotated[int, Query(ge=1, le=review.MAX_PER_PAGE)] = 25,
                 status: StatusQuery = "open") -> ReviewQueueOut:
    """A page of held messages, oldest first, with everything a reviewer's page
    shows: the matched terms and where they are, the translation, and each
    attachment's kind and state."""
    with c.db.read() as conn:
        found = review.review_queue(conn, me.scope, page=page, per_page=per_page,
                                    status=status)
    return ReviewQueueOut.model_validate(dataclasses.asdict(found))


@router.get("/holds/{hold_id}/attachments/{position}",
            responses={200: {"content": {"application/octet-stream": {}}}})
def held_attachment(hold_id: Id, position: Annotated[int, Path(ge=0, le=20)], me: Reviewer,
                    c: CentralDep) -> Response:
    """The file of a held message's attachment, for the reviewer to view (HTTP Range works)."""
    sha256, _ = review.attachment_file(c, hold_id, position, scope=me.scope)
    return serve_blob(c, sha256)


@router.post("/holds/{hold_id}/decision", status_code=204)
def decide(hold_id: Id, body: Decision, me: Reviewer, c: CentralDep) -> Response:
    """Approve, or reject with a reason code, every part still open; both sides
    get a notice."""
    review.decide(c, hold_id, scope=me.scope, approve=body.approve,
                  reason_code=body.reason_code, note=body.note)
    return Response(status_code=204)


@router.post("/holds/{hold_id}/parts", response_model=DecidedOut)
def decide_parts(hold_id: Id, body: PartsDecision, me: Reviewer, c: CentralDep) -> DecidedOut:
    """Decide the text, some attachments, or both, each approved or rejected
    with its own reason code. Once no part is open the hold closes: what was
    approved is delivered without what was rejected, both sides are told which
    part was withheld and why, and the stamps follow the agency's policy."""
    positions = [a.position for a in body.attachments]
    if len(set(positions)) != len(positions):
        raise InvalidInput("each attachment is decided once a call", code="duplicate_part")
    done = review.decide_parts(
        c, hold_id, scope=me.scope,
        text=review.Verdict(body.text.approve, body.text.reason_code)
        if body.text is not None else None,
        attachments={a.position: review.Verdict(a.approve, a.reason_code)
                     for a in body.attachments}, note=body.note)
    return DecidedOut.model_validate(dataclasses.asdict(done))


@router.get("/rejection-reasons", response_model=dict[str, str])
def rejection_reasons(me: Reviewer,
                      language: Annotated[Literal["en", "es"], Query()] = "en"
                      ) -> dict[str, str]:
    """The reason codes a rejection may give, worded in ``language``."""
    return {code: r.wording(language) for code, r in REASONS.items()}


@router.get("/keyword-lists", response_model=list[KeywordListOut])
def keyword_lists(me: Reviewer, c: CentralDep) -> list[KeywordListOut]:
    return [KeywordListOut(**{**k.__dict__, "terms": list(k.terms)})
            for k in screening_lists.all_lists(c, reach=me.scope)]


@router.get("/keyword-lists/{list_id}", response_model=KeywordListOut)
def keyword_list(list_id: Id, me: Reviewer, c: CentralDep,
                 version: Annotated[int | None, Query(ge=1, le=2**31)] = None
                 ) -> KeywordListOut:
    k = screening_lists.get_list(c, list_id, version, reach=me.scope)
    return KeywordListOut(**{**k.__dict__, "terms": list(k.terms)})


@router.put("/keyword-lists", response_model=KeywordListOut)
def save_keyword_list(body: KeywordListIn, me: Reviewer, c: CentralDep) -> KeywordListOut:
    """Replace a list's terms; each save is a new version (send expected_version
    to refuse overwriting someone else's edit)."""
    k = screening_lists.save_list(c, scope=body.scope, scope_id=body.scope_id,
                                  language=body.language, terms=body.terms, reach=me.scope,
                                  expected_version=body.expected_version)
    return KeywordListOut(**{**k.__dict__, "terms": list(k.terms)})


# -- approvals -----------------------------------------------------------------


@router.get("/approvals", response_model=list[StaffApprovalOut])
def approval_requests(me: Reviewer, c: CentralDep,
                      status: StatusQuery = "pending") -> list[StaffApprovalOut]:
    with c.db.read() as conn:
        rows = conn.execute(select(approvals, contacts.c.name, contacts.c.email)
                            .join(contacts, contacts.c.id == approvals.c.contact_id)
                            .join(residents, residents.c.id == approvals.c.resident_id)
                            .where(approvals.c.status == status,
                                   me.scope.facilities_clause(residents.c.facility_id))
                            .order_by(approvals.c.requested_at, approvals.c.id).limit(200)).all()
    return [StaffApprovalOut(id=r.id, resident_id=r.resident_id, contact_id=r.contact_id,
                             contact_name=r.name, contact_email=r.email,
                             relationship=r.relationship, status=r.status,
                             requested_at=r.requested_at) for r in rows]


@router.post("/approvals/{approval_id}/decision", status_code=204)
def decide_approval(approval_id: Id, body: ApprovalDecision, me: Reviewer,
                    c: CentralDep) -> Response:
    accounts.decide_approval(c, approval_id, approve=body.approve, scope=me.scope,
                             note=body.note)
    return Response(status_code=204)


# -- alerts --------------------------------------------------------------------


@router.get("/alerts", response_model=list[AlertOut])
def alert_inbox(me: Watcher, c: CentralDep,
                status: Annotated[str | None, Query(max_length=16)] = "open"
                ) -> list[AlertOut]:
    """Pairing refusals reported by kiosks, newest first."""
    return [AlertOut(**a) for a in alerts.inbox(c, status, scope=me.scope)]


@router.post("/alerts/{alert_id}/acknowledge", status_code=204)
def acknowledge(alert_id: Id, body: AckIn, me: Watcher, c: CentralDep) -> Response:
    alerts.acknowledge(c, alert_id, scope=me.scope, note=body.note)
    return Response(status_code=204)


@router.post("/alerts/{alert_id}/notes", status_code=204)
def alert_note(alert_id: Id, body: NoteIn, me: Watcher, c: CentralDep) -> Response:
    alerts.add_note(c, alert_id, scope=me.scope, text=body.text)
    return Response(status_code=204)


# -- tickets -------------------------------------------------------------------


@router.get("/tickets", response_model=list[TicketOut])
def ticket_list(me: Technician, c: CentralDep,
                status: Annotated[str | None, Query(max_length=16)] = None) -> list[TicketOut]:
    """Trouble tickets, the ones due soonest first."""
    tickets.escalate_due(c)
    tickets.credit_overdue(c)
    return [TicketOut(**t.__dict__) for t in tickets.list_tickets(c, status=status,
                                                                  scope=me.scope)]


@router.get("/tickets/{ticket_id}", response_model=TicketOut)
def ticket(ticket_id: Id, me: Technician, c: CentralDep) -> TicketOut:
    return TicketOut(**tickets.view(c, ticket_id, scope=me.scope).__dict__)


@router.post("/tickets/{ticket_id}/replies", status_code=204)
def reply(ticket_id: Id, body: ReplyIn, me: Technician, c: CentralDep) -> Response:
    """Answer a ticket; resolving it needs your own words, not only a canned reply."""
    tickets.reply(c, ticket_id, scope=me.scope, text=body.text, canned=body.canned,
                  resolve=body.resolve)
    return Response(status_code=204)


# -- administration -------------------------------------------------------------


@router.post("/residents", status_code=201, response_model=NewResidentOut)
def admit(body: ResidentIn, me: Admin, c: CentralDep) -> NewResidentOut:
    """Admit a resident; the answer holds a random first PIN, shown once."""
    new = accounts.create_resident(c, agency_id=body.agency_id, agency=body.agency,
                                   name=body.name, facility_id=body.facility_id,
                                   unit_id=body.unit_id, language=body.language,
                                   scope=me.scope)
    return NewResidentOut(id=new.id, agency_id=new.agency_id, first_pin=new.first_pin)


@router.post("/residents/{resident_id}/pin-reset", response_model=PinResetOut)
def pin_reset(resident_id: Id, me: Admin, c: CentralDep) -> PinResetOut:
    return PinResetOut(pin=accounts.reset_pin(c, resident_id, scope=me.scope))


@router.get("/residents/{resident_id}/archive",
            responses={200: {"content": {"application/zip": {}}}})
def export_archive(resident_id: Id, me: Investigator, c: CentralDep) -> Response:
    """The resident's whole archive as one zip file."""
    data = archive.export(c, resident_id, scope=me.scope)
    return Response(data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="resident-{resident_id}-archive.zip"'})


@router.post("/tablets", status_code=201, response_model=Created)
def register_tablet(body: TabletIn, me: Technician, c: CentralDep,
                    request: Request) -> Created:
    """Register a tablet of a facility in your reach, with the certificate the
    facility CA issued it."""
    accounts.register_tablet(c, body.serial, body.certificate, scope=me.scope,
                             facility_id=body.facility_id,
                             trust=request.app.state.kiosks.trust)
    return Created(id=0)


@router.post("/tablets/{serial}/assignment", status_code=204)
def assign_tablet(serial: Annotated[str, Path(max_length=64)], body: AssignIn, me: Technician,
                  c: CentralDep) -> Response:
    resident_id = body.resident_id
    if resident_id is None:
        with c.db.read() as conn:
            res = accounts.resident(conn, agency_id=body.resident_agency_id)
            me.scope.facility(res.facility_id, f"resident {body.resident_agency_id}")
            resident_id = int(res.id)
    accounts.assign_tablet(c, serial, resident_id, scope=me.scope)
    return Response(status_code=204)


@router.post("/tablets/{serial}/counter", response_model=CounterOut)
def reset_counter(serial: Annotated[str, Path(min_length=1, max_length=64)],
                  body: CounterResetIn, me: Technician, c: CentralDep) -> CounterOut:
    """Set the sync counter of a tablet you have confirmed is genuine, after it
    was refused for a counter jump (``counter_jump``): give the counter it
    presented. A counter is only ever raised, so every kiosk takes it; the
    change is audited."""
    done = sync_counters.reset(c, serial, body.counter, scope=me.scope)
    return CounterOut(serial=done.serial, counter=done.counter, reported_by=done.reported_by,
                      reported_at=done.reported_at)


@router.post("/tablets/{serial}/status", status_code=204)
def tablet_status(serial: Annotated[str, Path(max_length=64)], body: TabletStatusIn,
                  me: Technician, c: CentralDep) -> Response:
    accounts.set_tablet_status(c, serial, body.status, scope=me.scope)
    return Response(status_code=204)


@router.post("/kiosks", status_code=201, response_model=Created)
def register_kiosk(body: KioskIn, me: Technician, c: CentralDep) -> Created:
    accounts.register_kiosk(c, body.id, body.location_code, body.unit_id,
                            body.certificate_fingerprint, scope=me.scope)
    return Created(id=0)


@router.post("/kiosks/{kiosk_id}/status", status_code=204)
def kiosk_status(kiosk_id: Annotated[str, Path(max_length=32)], body: KioskStatusIn,
                 me: Technician, c: CentralDep) -> Response:
    """Retire a kiosk (its certificate is refused from its next request on), or
    mark it in or out of service."""
    accounts.set_kiosk_status(c, kiosk_id, body.status, scope=me.scope)
    return Response(status_code=204)


MEDIA_TYPES = ("audio/mpeg", "audio/wav", "audio/ogg", "video/mp4", "image/jpeg", "image/png")


@router.post("/blobs", status_code=201, response_model=BlobOut,
             openapi_extra={"requestBody": {"required": True, "content": {
                 t: {"schema": {"type": "string", "format": "binary"}} for t in MEDIA_TYPES}}})
async def upload(request: Request, me: Admin, c: CentralDep) -> BlobOut:
    """Upload a media file (song, video, cover art) before cataloguing it."""
    return await read_upload(request, c, allowed=MEDIA_TYPES, uploader=f"staff:{me.id}",
                             purpose="media")


@router.post("/catalog", status_code=201, response_model=Created)
def add_catalog_item(body: CatalogItemIn, me: Admin, c: CentralDep) -> Created:
    media.add_item(c, media.Item(**body.model_dump()), scope=me.scope)
    return Created(id=0)


@router.get("/agencies/{agency_id}/policy", response_model=PolicyBody)
def get_policy(agency_id: Annotated[str, Path(max_length=32)], me: Admin,
               c: CentralDep) -> PolicyBody:
    me.scope.agency(agency_id, f"agency {agency_id}")
    with c.db.read() as conn:
        policy = accounts.policy_of(conn, agency_id)
    return PolicyBody(**{**dataclasses.asdict(policy),
                         "offers": [dataclasses.asdict(o) for o in policy.offers],
                         "family_identity_fields": list(policy.family_identity_fields)})


@router.put("/agencies/{agency_id}/policy", status_code=204)
def set_policy(agency_id: Annotated[str, Path(max_length=32)], body: PolicyBody, me: Admin,
               c: CentralDep) -> Response:
    """Replace the agency's prices and limits; the change is audited."""
    data = {k: v for k, v in body.model_dump().items() if v is not None}
    try:
        policy = PricingPolicy.from_json(json.dumps(data))
    except ValueError as e:
        raise InvalidInput(str(e)) from e
    accounts.set_policy(c, agency_id, policy, scope=me.scope)
    return Response(status_code=204)


@router.post("/staff", status_code=201, response_model=Created)
def add_staff(body: StaffIn, me: Admin, c: CentralDep) -> Created:
    return Created(id=accounts.create_staff(c, body.username, body.name, body.role,
                                            body.password, facility_id=body.facility_id,
                                            agency_id=body.agency_id, scope=me.scope))


@router.post("/staff/{staff_id}/status", status_code=204)
def staff_status(staff_id: Id, body: StaffStatusIn, me: Admin, c: CentralDep) -> Response:
    """Disable a staff account (its sessions end, its next call is refused) or
    enable it again."""
    accounts.set_staff_status(c, staff_id, body.status, scope=me.scope)
    return Response(status_code=204)


Month = Annotated[str, Query(min_length=7, max_length=7, pattern=r"^\d{4}-\d{2}$",
                             description="YYYY-MM, in the agency's time zone")]

def _line(line: reports.ReportLine) -> ReportLineOut:
    return ReportLineOut(**{name: getattr(line, name) for name in ReportLineOut.model_fields})


@router.get("/reports/monthly", response_model=MonthlyReportOut)
def monthly_report(month: Month, me: Admin, c: CentralDep) -> MonthlyReportOut:
    """The month's report per facility in reach and in total (an agency
    administrator also sees what families bought): tablets given, media sold,
    messages, stamps, and the agency's commissions."""
    report = reports.monthly_report(c, month, scope=me.scope)
    return MonthlyReportOut(
        agency=report.agency, month=report.month, timezone=report.timezone,
        starts_at=report.starts_at, ends_at=report.ends_at,
        commission_tablets_bps=report.rates.tablets_bps,
        commission_media_bps=report.rates.media_bps,
        commission_stamps_bps=report.rates.stamps_bps,
        lines=[_line(line) for line in report.lines], total=_line(report.total))


@router.get("/reports/monthly.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}})
def monthly_report_csv(month: Month, me: Admin, c: CentralDep) -> Response:
    """The same report as CSV (dollars and cents), to file with the contract."""
    report = reports.monthly_report(c, month, scope=me.scope)
    return Response(reports.to_csv(report), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="report-{report.agency}-{month}.csv"'})


@router.get("/audit", response_model=list[AuditOut])
def audit(me: Investigator, c: CentralDep,
          before: Annotated[int | None, Query(ge=1, le=2**53)] = None,
          limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[AuditOut]:
    """Staff actions, newest first; page with ``before`` (an entry's id)."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    query = query.where(audit_visible(me.scope))
    if before is not None:
        query = query.where(audit_log.c.id < before)
    with c.db.read() as conn:
        rows = conn.execute(query).all()
    return [AuditOut(id=r.id, at=r.at, staff_id=r.staff_id, action=r.action, target=r.target,
                     detail=json.loads(r.detail)) for r in rows]
