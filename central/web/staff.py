"""The Facility System under /staff: staff log in with their accounts and
see what their role works on, in their own facility (an agency
administrator: the whole agency). Every page takes the staff member's
:class:`~central.services.scope.Scope`; a row out of reach is not found."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy import func, select

from central.api.auth import CentralDep
from central.blobs import check_sha256
from central.errors import Conflict, Forbidden, InvalidInput, NotFound, PolicyRefused
from central.schema import approvals, attachments, blobs, holds, messages, residents, staff
from central.services import (
    accounts,
    alerts,
    archive,
    reports,
    review,
    screening_lists,
    tickets,
)
from central.services.scope import Scope
from central.web import dates, family, forms, queries, security, sessions
from central.web.charts import bars
from central.web.forms import Form
from central.web.i18n import N_, Gettext
from central.web.login import client, login, login_page
from central.web.site import (
    HtmlRoute,
    Visit,
    VisitDep,
    dollars,
    form_of,
    guard,
    highlighted,
    redirect,
    set_language,
    site_of,
)

AREA = security.STAFF
HOME = "/staff"
QUEUE_PAGE = 50
router = APIRouter(prefix="/staff", route_class=HtmlRoute, dependencies=[Depends(guard)],
                   include_in_schema=False)

# The pages of the Facility System, and who sees each in their navigation
# (administrators see everything). A page is listed here once it is built.
NAV: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("/staff", N_("Home"), frozenset(accounts.STAFF_ROLES)),
    ("/staff/review", N_("Review queue"), frozenset({"reviewer"})),
    ("/staff/alerts", N_("Alerts"), frozenset({"technician", "investigator"})),
    ("/staff/devices", N_("Devices"), frozenset({"technician"})),
    ("/staff/tickets", N_("Tickets"), frozenset({"technician"})),
    ("/staff/contacts", N_("Contacts"), frozenset({"reviewer"})),
    ("/staff/keywords", N_("Keyword lists"), frozenset({"reviewer"})),
    ("/staff/residents", N_("Residents"), frozenset({"investigator"})),
    ("/staff/reports", N_("Monthly report"), frozenset({"administrator"})),
    ("/staff/audit", N_("Audit log"), frozenset({"investigator"})),
)
DONE = {"replied": N_("Your reply is sent to the resident."),
        "resolved": N_("The ticket is resolved, and the resident told."),
        "list_saved": N_("The list is saved as a new version."),
        "contact_approved": N_("The contact is approved: they see the resident's name now."),
        "contact_denied": N_("The contact request is denied."),
        "kiosk": N_("The kiosk's status is changed."),
        "tablet": N_("The tablet's status is changed."),
        "assigned": N_("The tablet is given to the resident."),
        "acknowledged": N_("The alert is acknowledged."),
        "noted": N_("Your note is added to the alert."),
        "approved": N_("The message was delivered, and its sender told."),
        "rejected": N_("The message was rejected; both sides were told the reason."),
        "partial": N_("The message was delivered without what you withheld; both sides "
                      "were told which part and why.")}
ROLES = {"reviewer": N_("Reviewer"), "administrator": N_("Administrator"),
         "technician": N_("Technician"), "investigator": N_("Investigator")}


@dataclass(frozen=True)
class StaffMember:
    id: int
    name: str
    role: str
    scope: Scope


def member(request: Request, visit: VisitDep, c: CentralDep) -> StaffMember:
    signed = sessions.signed_in(c, request, visit, AREA)
    scope = signed.session.scope
    assert scope is not None and signed.session.role is not None
    with c.db.read() as conn:
        name = conn.execute(select(staff.c.name).where(staff.c.id == signed.session.subject_id)
                            ).scalar_one()
    return StaffMember(signed.session.subject_id, str(name), signed.session.role, scope)


MemberDep = Annotated[StaffMember, Depends(member)]


def may_see(role: str, path: str) -> bool:
    return any(p == path and (role == "administrator" or role in roles) for p, _, roles in NAV)


def nav_for(role: str, _: Gettext) -> list[tuple[str, str]]:
    return [(path, _(label)) for path, label, _roles in NAV if may_see(role, path)]


def page(request: Request, visit: Visit, template: str, who: StaffMember | None, *,
         status: int = 200, **context: Any) -> Response:
    _ = visit.gettext
    done = DONE.get(request.query_params.get("done", ""))
    if who is not None and "zone" not in context:
        context["zone"] = _zone(site_of(request).central, who)
    return site_of(request).render(
        request, template, status=status, area=AREA,
        who=f"{who.name} ({_(ROLES[who.role])})" if who else None,
        nav=nav_for(who.role, _) if who else [], done=_(done) if done else "", **context)


def require_page(who: StaffMember, path: str) -> None:
    """Raises NotFound for a page the staff member's role does not work on."""
    if not may_see(who.role, path):
        raise NotFound(f"no page {path}")


@router.get("/login")
def login_form(request: Request, visit: VisitDep) -> Response:
    next_path = security.local_path(request.query_params.get("next"), area=HOME, default=HOME)
    return login_page(request, AREA, Form({}), next_path=next_path, kept={}, ended=False,
                      status=200, visit=visit)


@router.post("/login")
def login_post(request: Request, visit: VisitDep, c: CentralDep) -> Response:
    return login(c, request, visit, AREA, home=HOME, name_field="username",
                 log_in=lambda username, password: accounts.login_staff(
                     c, username, password, address=client(request)))


@router.post("/language")
def language(request: Request, visit: VisitDep) -> Response:
    return set_language(request, visit, AREA)


@router.post("/logout")
def logout(request: Request, visit: VisitDep, c: CentralDep) -> Response:
    return sessions.close_session(c, request, visit, AREA)


@router.get("")
def home(request: Request, visit: VisitDep, who: MemberDep, c: CentralDep) -> Response:
    with c.db.read() as conn:
        in_reach = who.scope.facilities_clause(residents.c.facility_id)
        open_holds = conn.execute(
            select(func.count()).select_from(holds.join(messages).join(residents))
            .where(holds.c.status == "open", in_reach)).scalar_one()
        pending = conn.execute(
            select(func.count()).select_from(approvals.join(residents))
            .where(approvals.c.status == "pending", in_reach)).scalar_one()
        from central.schema import alerts as alert_rows
        from central.schema import kiosks
        from central.schema import tickets as ticket_rows
        open_alerts = conn.execute(
            select(func.count()).select_from(alert_rows.join(
                kiosks, kiosks.c.id == alert_rows.c.kiosk_id))
            .where(alert_rows.c.status == "open",
                   who.scope.units_clause(kiosks.c.unit_id))).scalar_one()
        due = conn.execute(
            select(func.count()).select_from(ticket_rows.join(
                residents, residents.c.id == ticket_rows.c.resident_id))
            .where(ticket_rows.c.status != "resolved",
                   ticket_rows.c.due_at <= c.clock()
                   + c.settings.ticket_escalate_days_before * 86400, in_reach)).scalar_one()
    return page(request, visit, "staff/home.html", who, open_holds=open_holds,
                pending=pending, role=who.role, open_alerts=open_alerts, due=due,
                places=sorted(who.scope.facility_ids))


@router.get("/review")
def review_queue(request: Request, visit: VisitDep, who: MemberDep, c: CentralDep) -> Response:
    """Held messages, oldest first, with the terms that held them marked."""
    require_page(who, "/staff/review")
    page_no = _int(request.query_params.get("page"))
    return render_queue(request, visit, c, who, page_no)


def render_queue(request: Request, visit: Visit, c: Any, who: StaffMember,
                 page_no: int) -> Response:
    with c.db.read() as conn:
        rows, total = queries.review_queue(conn, who.scope, page_no, QUEUE_PAGE)
    shown = [(row, highlighted(row.body, [(int(h["start"]), int(h["end"])) for h in row.hits
                                          if "start" in h and h.get("field") is None]))
             for row in rows]
    pages = max(1, -(-total // QUEUE_PAGE))
    template = "staff/_queue.html" if request.headers.get("hx-request") == "true" \
        else "staff/review.html"
    return page(request, visit, template, who, rows=shown, total=total, page_no=page_no,
                pages=pages)


# The reasons a reviewer can give, in the staff member's language (the same
# codes as central.services.review; the family pages say them to families).
REASON_LABELS = family.REASONS


@router.get("/review/{hold_id}")
def hold_page(hold_id: int, request: Request, visit: VisitDep, who: MemberDep,
              c: CentralDep) -> Response:
    """One held message: the original with the terms marked, its translation
    beside it, its photos and videograms, and the decision."""
    require_page(who, "/staff/review")
    return _hold(request, visit, c, who, hold_id, Form({}))


@dataclass(frozen=True)
class PartRow:
    """One part of a held message on the hold page's part-by-part form."""

    key: str  # "text" or an attachment's position
    label: str  # as a heading: "Photo 2"
    mention: str  # inside a sentence: "photo 2"
    state: str  # open, approved, rejected
    reason: str  # the reason it was withheld, in the reader's language

    @property
    def field(self) -> str:
        return f"part-{self.key}"

    @property
    def reason_field(self) -> str:
        return f"reason-{self.key}"


def _part_rows(held: review.HoldView, visit: Visit) -> list[PartRow]:
    _ = visit.gettext
    rows = []
    for p in held.parts:
        reason = family.reason_text(p.get("reason_code"), visit.language)
        if p["part"] == "text":
            rows.append(PartRow("text", _("The text"), _("the text"), str(p["state"]), reason))
            continue
        n = int(p["position"]) + 1
        if p["kind"] == "photo":
            label, mention = _("Photo {n}", n=n), _("photo {n}", n=n)
        else:
            label, mention = _("Videogram {n}", n=n), _("videogram {n}", n=n)
        rows.append(PartRow(str(p["position"]), label, mention, str(p["state"]), reason))
    return rows


def _hold(request: Request, visit: Visit, c: Any, who: StaffMember, hold_id: int,
          form: Form, status: int = 200, parts_form: Form | None = None) -> Response:
    _ = visit.gettext
    held = review.get_hold(c, hold_id, scope=who.scope)
    with c.db.read() as conn:
        names = conn.execute(select(residents.c.name, residents.c.agency_id)
                             .where(residents.c.id == held.message["resident_id"])).one()
    spans = [(int(h["start"]), int(h["end"])) for h in held.hits
             if "start" in h and h.get("field") is None]
    return page(request, visit, "staff/hold.html", who, status=status, hold=held,
                body=highlighted(held.message["body"], spans), resident=names, form=form,
                parts_form=parts_form or Form({}), parts=_part_rows(held, visit),
                reasons=[(code, r.wording(visit.language)) for code, r in REASON_LABELS.items()],
                terms=sorted({str(h["term"]) for h in held.hits if h.get("term")}),
                by_policy=any(h.get("policy") for h in held.hits))


@router.post("/review/{hold_id}")
def decide(hold_id: int, request: Request, visit: VisitDep, who: MemberDep,
           c: CentralDep) -> Response:
    """Approve (deliver) or reject with a reason: both sides are told."""
    require_page(who, "/staff/review")
    _ = visit.gettext
    form = Form(form_of(visit))
    decision = form.get("decision")
    if decision not in ("approve", "reject"):
        form.problem = _("Choose to deliver or to reject the message.")
    elif decision == "reject" and form.get("reason") not in REASON_LABELS:
        form.refuse("reason", _("A rejection needs its reason."))
    if len(form.get("note")) > 1000:
        form.refuse("note", _("At most {n} characters.", n=1000))
    if form.ok:
        try:
            review.decide(c, hold_id, scope=who.scope, approve=decision == "approve",
                          reason_code=form.get("reason") if decision == "reject" else None,
                          note=form.get("note"))
        except Conflict:
            form.problem = _("Someone has already decided this message.")
        else:
            done = "approved" if decision == "approve" else "rejected"
            return redirect(request, f"/staff/review?done={done}")
    return _hold(request, visit, c, who, hold_id, form, status=422 if form.errors else 409)


@router.post("/review/{hold_id}/parts")
def decide_parts(hold_id: int, request: Request, visit: VisitDep, who: MemberDep,
                 c: CentralDep) -> Response:
    """Deliver or withhold the text and each attachment one by one (a part left
    at "Not now" stays held); a withheld part needs its reason, and both sides
    are told it. The message is delivered, without what was withheld, once no
    part is left open."""
    require_page(who, "/staff/review")
    _ = visit.gettext
    form = Form(form_of(visit))
    held = review.get_hold(c, hold_id, scope=who.scope, translate=False)
    text: review.Verdict | None = None
    attached: dict[int, review.Verdict] = {}
    for row in _part_rows(held, visit):
        choice = form.get(row.field)
        if row.state != "open" or choice == "":
            continue
        if choice not in ("approve", "reject"):
            form.refuse(row.field, _("Choose to deliver or to withhold it."))
            continue
        code = form.get(row.reason_field)
        if choice == "reject" and code not in REASON_LABELS:
            form.refuse(row.reason_field, _("Withholding it needs its reason."))
            continue
        verdict = review.Verdict(choice == "approve",
                                 code if choice == "reject" else None)
        if row.key == "text":
            text = verdict
        else:
            attached[int(row.key)] = verdict
    if len(form.get("parts_note")) > 1000:
        form.refuse("parts_note", _("At most {n} characters.", n=1000))
    if form.ok and text is None and not attached:
        form.problem = _("Choose to deliver or to withhold at least one part.")
    if form.ok:
        try:
            decided = review.decide_parts(c, hold_id, scope=who.scope, text=text,
                                          attachments=attached, note=form.get("parts_note"))
        except Conflict:
            form.problem = _("Someone has already decided one of these parts.")
        else:
            if decided.status == "open":
                return redirect(request, f"/staff/review/{hold_id}")
            return redirect(request, f"/staff/review?done={decided.status}")
    return _hold(request, visit, c, who, hold_id, Form({}), parts_form=form,
                 status=422 if form.errors else 409)


@router.get("/files/{sha256}")
def held_file(sha256: str, who: MemberDep, c: CentralDep) -> Response:
    """A photo or videogram of a message in the reviewer's reach."""
    require_page(who, "/staff/review")
    check_sha256(sha256)
    with c.db.read() as conn:
        media_type = conn.execute(
            select(blobs.c.media_type)
            .join(attachments, attachments.c.blob_sha256 == blobs.c.sha256)
            .join(messages, messages.c.id == attachments.c.message_id)
            .join(residents, residents.c.id == messages.c.resident_id)
            .where(blobs.c.sha256 == sha256,
                   who.scope.facilities_clause(residents.c.facility_id)).limit(1)).scalar()
    path = c.blobs.path(sha256)
    if media_type is None or not path.is_file():
        raise NotFound(f"no file {sha256}")
    return FileResponse(path, media_type=str(media_type), headers={
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"})


# The report's columns on the page, in the staff member's language.
REPORT_COLUMNS = (
    ("tablets_issued", N_("Tablets given")), ("songs", N_("Songs")), ("albums", N_("Albums")),
    ("videos", N_("Videos")), ("messages", N_("Messages")), ("stamps_sold", N_("Stamps sold")),
    ("tablet_sales_cents", N_("Tablet sales")), ("media_net_cents", N_("Media, net")),
    ("stamp_sales_cents", N_("Stamp sales")), ("revenue_cents", N_("Revenue")),
    ("commission_cents", N_("Commission")),
)


def _zone(c: Any, who: StaffMember) -> str:
    """The staff member's agency's time zone: their pages' dates are in it."""
    with c.db.read() as conn:
        return dates.agency_zone(conn, who.scope.agency_id)


def _month_now(c: Any, who: StaffMember) -> str:
    """The month it is now where the agency is."""
    zone = ZoneInfo(_zone(c, who))
    return datetime.datetime.fromtimestamp(c.clock(), zone).strftime("%Y-%m")


@router.get("/reports")
def report_page(request: Request, visit: VisitDep, who: MemberDep, c: CentralDep) -> Response:
    """The month's report (contract F.7): per facility and in total, charts
    drawn on the server with their numbers in a table beside each, and CSV."""
    require_page(who, "/staff/reports")
    _ = visit.gettext
    month = request.query_params.get("month") or _month_now(c, who)
    form = Form({"month": month})
    try:
        report = reports.monthly_report(c, month, scope=who.scope)
    except InvalidInput:
        form.refuse("month", _("Choose a month, as YYYY-MM."))
        return page(request, visit, "staff/report.html", who, status=422, form=form,
                    report=None, charts=[], columns=[])
    names = {reports.FAMILIES: _("Families")}
    lines = [(names.get(line.place, line.name), line) for line in report.lines]

    def money(cents: int) -> str:
        return dollars(cents)
    charts = []
    for key, title, show in (
            ("revenue_cents", _("Revenue by facility"), money),
            ("messages", _("Messages carried by facility"), str),
            ("commission_cents", _("The agency's commission by facility"), money)):
        items = [(name, int(getattr(line, key))) for name, line in lines]
        charts.append((key, title, bars(title, items, show=show, chart_id=f"chart-{key}"),
                       [(name, show(value)) for name, value in items],
                       show(int(getattr(report.total, key)))))
    columns = [(key, _(label)) for key, label in REPORT_COLUMNS]
    return page(request, visit, "staff/report.html", who, form=form, report=report,
                lines=lines, charts=charts, columns=columns, cell=_report_cell)


def _report_cell(line: reports.ReportLine, key: str) -> str:
    value = int(getattr(line, key))
    return dollars(value) if key.endswith("_cents") else f"{value:,}"


@router.get("/reports/monthly.csv")
def report_csv(request: Request, who: MemberDep, c: CentralDep) -> Response:
    """The same report as CSV, to download."""
    require_page(who, "/staff/reports")
    month = request.query_params.get("month") or _month_now(c, who)
    report = reports.monthly_report(c, month, scope=who.scope)
    return Response(reports.to_csv(report), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="report-{report.agency}-{month}.csv"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


ALERT_STATES = {"open": N_("Open"), "acknowledged": N_("Acknowledged")}


@router.get("/alerts")
def alerts_page(request: Request, visit: VisitDep, who: MemberDep, c: CentralDep) -> Response:
    """Unauthorized connections reported by kiosks, newest first: who was
    logged in, where, which tablet and whose it is."""
    require_page(who, "/staff/alerts")
    return _alerts(request, visit, c, who, {})


def _alerts(request: Request, visit: Visit, c: Any, who: StaffMember,
            forms_: dict[int, Form], status: int = 200) -> Response:
    _ = visit.gettext
    state = request.query_params.get("status", "open")
    if state not in ALERT_STATES:
        state = "open"
    rows = alerts.inbox(c, state, scope=who.scope)
    with c.db.read() as conn:
        ids = {n["staff_id"] for r in rows for n in r["notes"]} | \
            {r["acknowledged_by"] for r in rows if r["acknowledged_by"]}
        names = dict(conn.execute(select(staff.c.id, staff.c.name)
                                  .where(staff.c.id.in_(sorted(ids)))).all()) if ids else {}
    return page(request, visit, "staff/alerts.html", who, status=status, rows=rows,
                state=state, states={k: _(v) for k, v in ALERT_STATES.items()},
                names=names, forms=forms_, blank=Form({}))


@router.post("/alerts/{alert_id}")
def alert_act(alert_id: int, request: Request, visit: VisitDep, who: MemberDep,
              c: CentralDep) -> Response:
    """Acknowledge an alert, or add a note to it."""
    require_page(who, "/staff/alerts")
    _ = visit.gettext
    form = Form(form_of(visit))
    action = form.get("action")
    note = form.get("note")
    if len(note) > 2000:
        form.refuse("note", _("At most {n} characters.", n=2000))
    if action == "note" and not note:
        form.refuse("note", _("Write the note first."))
    if action not in ("acknowledge", "note"):
        form.problem = _("Choose to acknowledge the alert or to add a note.")
    if form.ok:
        if action == "acknowledge":
            alerts.acknowledge(c, alert_id, scope=who.scope, note=note)
        else:
            alerts.add_note(c, alert_id, scope=who.scope, text=note)
        done = "acknowledged" if action == "acknowledge" else "noted"
        return redirect(request, f"/staff/alerts?done={done}")
    return _alerts(request, visit, c, who, {alert_id: form}, status=422)


KIOSK_STATES = {"in_service": N_("In service"), "out_of_service": N_("Out of service"),
                "retired": N_("Retired")}
TABLET_STATES = {"active": N_("Active"), "lost": N_("Lost"), "released": N_("Released"),
                 "retired": N_("Retired")}
DEVICES_PAGE = 50


@router.get("/devices")
def devices_page(request: Request, visit: VisitDep, who: MemberDep, c: CentralDep) -> Response:
    """Kiosks (status, last seen) and tablets (owner, last dock, whether it is
    locked for writing, status), with the changes a technician makes."""
    require_page(who, "/staff/devices")
    return _devices(request, visit, c, who, Form({}))


def _devices(request: Request, visit: Visit, c: Any, who: StaffMember, form: Form,
             status: int = 200) -> Response:
    _ = visit.gettext
    page_no = _int(request.query_params.get("page"))
    with c.db.read() as conn:
        kiosk_rows = queries.kiosks_in(conn, who.scope)
        tablet_rows, total = queries.tablets_in(conn, who.scope, page_no, DEVICES_PAGE)
        lock_days = {a: queries.policy(conn, a).tablet_lock_days
                     for a in {r.agency for r in tablet_rows if r.agency}}
    now = c.clock()
    locked = {r.serial: r.agency is not None and r.status == "active" and (
        r.last_dock_at is None or now - int(r.last_dock_at) > lock_days[r.agency] * 86400)
        for r in tablet_rows}
    return page(request, visit, "staff/devices.html", who, status=status, form=form,
                kiosks=kiosk_rows, tablets=tablet_rows, locked=locked, page_no=page_no,
                more=(page_no + 1) * DEVICES_PAGE < total, total=total,
                kiosk_states=[(k, _(v)) for k, v in KIOSK_STATES.items()],
                tablet_states=[(k, _(v)) for k, v in TABLET_STATES.items()])


@router.post("/devices/kiosks/{kiosk_id}")
def kiosk_status(kiosk_id: str, request: Request, visit: VisitDep, who: MemberDep,
                 c: CentralDep) -> Response:
    require_page(who, "/staff/devices")
    _ = visit.gettext
    form = Form(form_of(visit))
    forms.check_choice(form, "status", KIOSK_STATES, _)
    if not form.ok:
        return _devices(request, visit, c, who, form, status=422)
    accounts.set_kiosk_status(c, kiosk_id, form.get("status"), scope=who.scope)
    return redirect(request, "/staff/devices?done=kiosk")


@router.post("/devices/tablets/{serial}")
def tablet_change(serial: str, request: Request, visit: VisitDep, who: MemberDep,
                  c: CentralDep) -> Response:
    """Give a tablet to a resident (by agency ID), or change its status."""
    require_page(who, "/staff/devices")
    _ = visit.gettext
    form = Form(form_of(visit))
    action = form.get("action")
    if action == "assign":
        field = f"resident-{serial}"
        agency_id = form.get("resident")
        try:
            with c.db.read() as conn:
                resident_row = accounts.resident(conn, agency_id=agency_id)
            accounts.assign_tablet(c, serial, int(resident_row.id), scope=who.scope)
        except NotFound:
            form.refuse(field, _("No resident of your facility has this ID number."))
        except PolicyRefused as e:
            form.refuse(field, e.message)
        else:
            return redirect(request, "/staff/devices?done=assigned")
        form.values[field] = agency_id
        return _devices(request, visit, c, who, form, status=422)
    forms.check_choice(form, "status", TABLET_STATES, _)
    if not form.ok:
        return _devices(request, visit, c, who, form, status=422)
    accounts.set_tablet_status(c, serial, form.get("status"), scope=who.scope)
    return redirect(request, "/staff/devices?done=tablet")


CONTACT_STATES = {"pending": N_("Waiting"), "approved": N_("Approved"), "denied": N_("Denied")}


@router.get("/contacts")
def contacts_page(request: Request, visit: VisitDep, who: MemberDep, c: CentralDep) -> Response:
    """Family members asking to contact residents of the facility, with what
    they said about themselves; approve or deny each."""
    require_page(who, "/staff/contacts")
    return _contacts(request, visit, c, who, {})


def _contacts(request: Request, visit: Visit, c: Any, who: StaffMember,
              forms_: dict[int, Form], status: int = 200) -> Response:
    _ = visit.gettext
    state = request.query_params.get("status", "pending")
    if state not in CONTACT_STATES:
        state = "pending"
    with c.db.read() as conn:
        rows = queries.contact_requests_in(conn, who.scope, state)
    return page(request, visit, "staff/contacts.html", who, status=status, rows=rows,
                state=state, states={k: _(v) for k, v in CONTACT_STATES.items()},
                labels={k: _(v) for k, v in forms.IDENTITY_LABELS.items()}, forms=forms_,
                blank=Form({}))


@router.post("/contacts/{approval_id}")
def contact_decision(approval_id: int, request: Request, visit: VisitDep, who: MemberDep,
                     c: CentralDep) -> Response:
    require_page(who, "/staff/contacts")
    _ = visit.gettext
    form = Form(form_of(visit))
    decision = form.get("decision")
    if decision not in ("approve", "deny"):
        form.problem = _("Choose to approve or to deny the request.")
    if len(form.get("note")) > 500:
        form.refuse("note", _("At most {n} characters.", n=500))
    if not form.ok:
        return _contacts(request, visit, c, who, {approval_id: form}, status=422)
    accounts.decide_approval(c, approval_id, approve=decision == "approve", scope=who.scope,
                             note=form.get("note"))
    done = "contact_approved" if decision == "approve" else "contact_denied"
    return redirect(request, f"/staff/contacts?done={done}")


RESIDENTS_PAGE = 50


@router.get("/residents")
def residents_page(request: Request, visit: VisitDep, who: MemberDep,
                   c: CentralDep) -> Response:
    """The facility's residents, found by ID or name: an administrator gives a
    new first PIN, an investigator (or administrator) exports the archive."""
    require_page(who, "/staff/residents")
    return _residents(request, visit, c, who)


def _residents(request: Request, visit: Visit, c: Any, who: StaffMember, *,
               new_pin: tuple[str, str] | None = None) -> Response:
    search = request.query_params.get("q", "").strip()[:64]
    page_no = _int(request.query_params.get("page"))
    with c.db.read() as conn:
        rows, total = queries.residents_in(conn, who.scope, search, page_no, RESIDENTS_PAGE)
    return page(request, visit, "staff/residents.html", who, rows=rows, total=total,
                form=Form({"q": search}), page_no=page_no,
                more=(page_no + 1) * RESIDENTS_PAGE < total, new_pin=new_pin,
                may_reset=who.role == "administrator",
                base=f"/staff/residents?q={quote(search)}&")


@router.post("/residents/{resident_id}/pin")
def reset_pin(resident_id: int, request: Request, visit: VisitDep, who: MemberDep,
              c: CentralDep) -> Response:
    """A new random first PIN, shown once on the page that answers (never in a
    link), to be changed at the next login."""
    require_page(who, "/staff/residents")
    if who.role != "administrator":
        raise NotFound("no such page")
    pin = accounts.reset_pin(c, resident_id, scope=who.scope)
    with c.db.read() as conn:
        name = str(accounts.resident(conn, id=resident_id).name)
    return _residents(request, visit, c, who, new_pin=(name, pin))


@router.get("/residents/{resident_id}/archive")
def resident_archive(resident_id: int, who: MemberDep, c: CentralDep) -> Response:
    """Everything kept for the resident, as a zip file (audited)."""
    require_page(who, "/staff/residents")
    data = archive.export(c, resident_id, scope=who.scope)
    return Response(data, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="resident-{resident_id}-archive.zip"',
        "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


LIST_SCOPES = {"agency": N_("The whole agency"), "facility": N_("A facility"),
               "unit": N_("A unit"), "resident": N_("One resident (their number in the system)")}
MAX_IMPORT_TERMS = 20_000


@router.get("/keywords")
def keyword_lists_page(request: Request, visit: VisitDep, who: MemberDep,
                       c: CentralDep) -> Response:
    """The keyword lists in reach, per scope and language, with their version
    and who saved it last; and a form for a new list."""
    require_page(who, "/staff/keywords")
    return _keyword_lists(request, visit, c, who, Form({"language": "en"}))


def _keyword_lists(request: Request, visit: Visit, c: Any, who: StaffMember, form: Form,
                   status: int = 200) -> Response:
    _ = visit.gettext
    lists = screening_lists.all_lists(c, reach=who.scope)
    with c.db.read() as conn:
        latest = {k.id: next(iter(queries.list_versions(conn, k.id)), None) for k in lists}
    return page(request, visit, "staff/keywords.html", who, status=status, lists=lists,
                latest=latest, form=form,
                scopes=[(k, _(v)) for k, v in LIST_SCOPES.items()])


@router.post("/keywords")
def new_keyword_list(request: Request, visit: VisitDep, who: MemberDep,
                     c: CentralDep) -> Response:
    require_page(who, "/staff/keywords")
    _ = visit.gettext
    form = Form(form_of(visit))
    forms.check_choice(form, "scope", LIST_SCOPES, _)
    forms.required(form, _, "scope_id", "language")
    terms = _terms(form.values.get("terms", ""))
    if not terms:
        form.refuse("terms", _("Write at least one term, one a line."))
    if form.ok:
        try:
            saved = screening_lists.save_list(
                c, scope=form.get("scope"), scope_id=form.get("scope_id"),
                language=form.get("language").lower(), terms=terms, reach=who.scope,
                expected_version=0)
        except (NotFound, Forbidden):
            form.refuse("scope_id", _("That is not a place in your reach."))
        except Conflict:
            form.refuse("scope_id", _("There is a list for this place and language "
                                      "already: add to it below."))
        except InvalidInput as e:
            form.problem = e.message
        else:
            return redirect(request, f"/staff/keywords/{saved.id}?done=list_saved")
    return _keyword_lists(request, visit, c, who, form, status=422)


def _terms(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@router.get("/keywords/{list_id}")
def keyword_list_page(list_id: int, request: Request, visit: VisitDep, who: MemberDep,
                      c: CentralDep) -> Response:
    require_page(who, "/staff/keywords")
    version = _int(request.query_params.get("version")) or None
    return _keyword_list(request, visit, c, who, list_id, Form({}), version=version)


def _keyword_list(request: Request, visit: Visit, c: Any, who: StaffMember, list_id: int,
                  form: Form, *, version: int | None = None, status: int = 200) -> Response:
    _ = visit.gettext
    current = screening_lists.get_list(c, list_id, reach=who.scope)
    shown = current if version is None else screening_lists.get_list(
        c, list_id, version, reach=who.scope)
    with c.db.read() as conn:
        versions = queries.list_versions(conn, list_id)
    return page(request, visit, "staff/keyword_list.html", who, status=status, form=form,
                current=current, shown=shown, versions=versions,
                scope_label=_(LIST_SCOPES.get(current.scope, current.scope)))


@router.post("/keywords/{list_id}")
def edit_keyword_list(list_id: int, request: Request, visit: VisitDep, who: MemberDep,
                      c: CentralDep) -> Response:
    """Add terms (typed, or a CSV file's first column), or remove one: each
    change saves a new version, refused if someone saved one meanwhile."""
    require_page(who, "/staff/keywords")
    _ = visit.gettext
    form = Form(form_of(visit))
    current = screening_lists.get_list(c, list_id, reach=who.scope)
    terms = set(current.terms)
    action = form.get("action")
    if action == "remove":
        terms.discard(form.values.get("term", ""))
    elif action == "add":
        added = _terms(form.values.get("terms", ""))
        if not added:
            form.refuse("terms", _("Write at least one term, one a line."))
        terms |= set(added)
    elif action == "import":
        upload = visit.form.get("file") if visit.form is not None else None
        try:
            terms |= set(_csv_terms(upload))
        except ValueError:
            form.refuse("file", _("Choose a CSV file with one term in the first column of "
                                  "each row."))
    else:
        form.problem = _("Choose what to change.")
    expected = _int(form.get("version"))
    if form.ok:
        try:
            screening_lists.save_list(c, scope=current.scope, scope_id=current.scope_id,
                                      language=current.language, terms=sorted(terms),
                                      reach=who.scope, expected_version=expected)
        except Conflict:
            form.problem = _("Someone saved this list meanwhile. Here it is as it is now: "
                             "make your change again.")
        except InvalidInput as e:
            form.problem = e.message
        else:
            return redirect(request, f"/staff/keywords/{list_id}?done=list_saved")
    return _keyword_list(request, visit, c, who, list_id, form, status=422)


def _csv_terms(upload: object) -> list[str]:
    """The first column of a CSV file's rows (a header row "term" is skipped).
    Raises ValueError for no file, or one that is not UTF-8 CSV."""
    import csv
    import io

    from starlette.datastructures import UploadFile
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise ValueError("no file")
    data = upload.file.read(2_000_001)
    if len(data) > 2_000_000:
        raise ValueError("too large")
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    terms = [row[0].strip() for row in rows[:MAX_IMPORT_TERMS + 1] if row and row[0].strip()]
    if terms and terms[0].lower() == "term":
        terms = terms[1:]
    if not terms:
        raise ValueError("no terms")
    return terms


TICKET_STATES = {"": N_("Not resolved"), "open": N_("Open"), "answered": N_("Answered"),
                 "escalated": N_("Escalated"), "resolved": N_("Resolved")}
CANNED = {"received": N_("We received your ticket and are looking into it."),
          "need_tablet": N_("Please bring your tablet to the unit officer so a technician can "
                            "check it."),
          "resync": N_("Please dock your tablet at the kiosk again; the missing item will be "
                       "re-sent.")}


@dataclass(frozen=True)
class TicketRow:
    ticket: Any
    resident: str
    days_left: int  # negative: past the deadline


@router.get("/tickets")
def tickets_page(request: Request, visit: VisitDep, who: MemberDep, c: CentralDep) -> Response:
    """Trouble tickets with their 14-day clock, those near or past their
    deadline first."""
    require_page(who, "/staff/tickets")
    _ = visit.gettext
    state = request.query_params.get("status", "")
    if state not in TICKET_STATES:
        state = ""
    tickets.escalate_due(c)
    tickets.credit_overdue(c)
    found = tickets.list_tickets(c, status=state or None, scope=who.scope)
    if not state:
        found = [t for t in found if t.status != "resolved"]
    names = _resident_names(c, [t.resident_id for t in found])
    now = c.clock()
    rows = [TicketRow(t, names.get(t.resident_id, ""), _days_left(t.due_at, now))
            for t in found]
    return page(request, visit, "staff/tickets.html", who, rows=rows, state=state,
                states={k: _(v) for k, v in TICKET_STATES.items()},
                days=c.settings.ticket_resolution_days,
                escalate=c.settings.ticket_escalate_days_before)


def _days_left(due_at: int, now: int) -> int:
    """Whole days left before the deadline; past it, minus the whole days
    since (at least one)."""
    if due_at >= now:
        return (due_at - now) // 86400
    return -max(1, (now - due_at) // 86400)


def _resident_names(c: Any, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    with c.db.read() as conn:
        return {int(r.id): f"{r.name} ({r.agency_id})" for r in conn.execute(
            select(residents.c.id, residents.c.name, residents.c.agency_id)
            .where(residents.c.id.in_(sorted(set(ids)))))}


@router.get("/tickets/{ticket_id}")
def ticket_page(ticket_id: int, request: Request, visit: VisitDep, who: MemberDep,
                c: CentralDep) -> Response:
    require_page(who, "/staff/tickets")
    return _ticket(request, visit, c, who, ticket_id, Form({}))


def _ticket(request: Request, visit: Visit, c: Any, who: StaffMember, ticket_id: int,
            form: Form, status: int = 200) -> Response:
    _ = visit.gettext
    ticket = tickets.view(c, ticket_id, scope=who.scope)
    staff_ids = sorted({int(e["actor"].split(":")[1]) for e in ticket.history
                        if str(e["actor"]).startswith("staff:")})
    with c.db.read() as conn:
        staff_names = dict(conn.execute(select(staff.c.id, staff.c.name)
                                        .where(staff.c.id.in_(staff_ids))).all()) \
            if staff_ids else {}
    actors = {f"staff:{i}": n for i, n in staff_names.items()}
    resident = _resident_names(c, [ticket.resident_id]).get(ticket.resident_id, "")
    actors[f"resident:{ticket.resident_id}"] = resident
    actors["system"] = _("the system")
    return page(request, visit, "staff/ticket.html", who, status=status, ticket=ticket,
                resident=resident, actors=actors, form=form,
                days_left=_days_left(ticket.due_at, c.clock()),
                canned=[("", _("(none)"))] + [(k, _(v)) for k, v in CANNED.items()],
                diagnostics=json.dumps(ticket.diagnostics, indent=2, sort_keys=True))


@router.post("/tickets/{ticket_id}")
def ticket_reply(ticket_id: int, request: Request, visit: VisitDep, who: MemberDep,
                 c: CentralDep) -> Response:
    """Answer a ticket; resolving it takes the technician's own words."""
    require_page(who, "/staff/tickets")
    _ = visit.gettext
    form = Form(form_of(visit))
    canned = form.get("canned") or None
    resolve = form.get("resolve") == "yes"
    if canned is not None and canned not in CANNED:
        form.refuse("canned", _("Choose one of these."))
    if len(form.get("text")) > 4000:
        form.refuse("text", _("At most {n} characters.", n=4000))
    if not form.get("text") and (resolve or canned is None):
        form.refuse("text", _("Say what was done: a ticket is resolved in your own words.")
                    if resolve else _("Write a reply, or choose a ready answer."))
    if form.ok:
        try:
            tickets.reply(c, ticket_id, scope=who.scope, text=form.get("text"), canned=canned,
                          resolve=resolve)
        except Conflict:
            form.problem = _("This ticket is resolved already.")
        else:
            done = "resolved" if resolve else "replied"
            return redirect(request, f"/staff/tickets/{ticket_id}?done={done}")
    return _ticket(request, visit, c, who, ticket_id, form, status=422)


@router.get("/audit")
def audit_page(request: Request, visit: VisitDep, who: MemberDep, c: CentralDep) -> Response:
    """What staff and the system did, where the staff member may read it,
    newest first, searched by action, target, detail or who."""
    require_page(who, "/staff/audit")
    search = request.query_params.get("q", "").strip()[:100]
    page_no = _int(request.query_params.get("page"))
    with c.db.read() as conn:
        rows, more = queries.audit_entries(conn, who.scope, search, page_no)
    return page(request, visit, "staff/audit.html", who, rows=rows, more=more,
                page_no=page_no, form=Form({"q": search}),
                base=f"/staff/audit?q={quote(search)}&")


def _int(text: str | None) -> int:
    return int(text) if text and text.isdigit() and len(text) < 9 else 0


@router.get("/{rest:path}")
def nothing_here(rest: str) -> Response:
    raise NotFound(f"no page {rest[:80]}")
