"""The family pages under /family: sign up, log in and out, ask to contact a
resident, buy stamps, write with a photo or a videogram (the stamps it costs
shown before it is sent), read replies and notices, and the stamp history."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy import select
from starlette.datastructures import UploadFile

from central import rejections
from central.api.auth import CentralDep
from central.blobs import check_content, check_sha256
from central.errors import (
    CentralError,
    InsufficientFunds,
    InvalidFields,
    InvalidInput,
    NotFound,
    OverQuota,
    TooLarge,
)
from central.passwords import check_new_password
from central.payments import DECLINED, SandboxCardPayments
from central.pricing import PricingPolicy, check_identity, message_cost
from central.schema import approvals, messages, residents
from central.services import accounts, messaging, money, uploads
from central.services.core import Central
from central.web import dates, forms, queries, security, sessions
from central.web.forms import IDENTITY_LABELS, Form
from central.web.i18n import N_, Gettext
from central.web.login import client, login, login_page
from central.web.site import (
    RESUME,
    HtmlRoute,
    Visit,
    VisitDep,
    form_of,
    guard,
    keep,
    redirect,
    set_language,
    site_of,
    visit_of,
)

AREA = security.FAMILY
HOME = "/family"
router = APIRouter(prefix="/family", route_class=HtmlRoute, dependencies=[Depends(guard)],
                   include_in_schema=False)

# The reasons a message or a part of one can be refused: central/rejections.py
# has each in English and Spanish, and the visitor reads it in their language.
REASONS = rejections.REASONS


def reason_text(code: object, language: str) -> str:
    """The wording of a reason code in ``language``; "" for a code not known."""
    reason = REASONS.get(str(code))
    return reason.wording(language) if reason is not None else ""
STATUSES = {"pending": N_("Waiting for staff"), "approved": N_("Approved"),
            "denied": N_("Not approved"), "revoked": N_("No longer approved")}
HISTORY = {"stamp_sale": N_("Stamps bought"), "message": N_("Message sent"),
           "message_refund": N_("Stamps returned"), "stamp_expiry": N_("Plan stamps expired")}
DONE = {"sent": N_("Your message was sent."),
        "held": N_("Your message was sent. Staff review it before it is delivered."),
        "bought": N_("Thank you: the stamps are yours."),
        "asked": N_("Your request was sent to the facility's staff."),
        "signed_up": N_("Your account is made. Now ask to contact a resident.")}
SANDBOX_CARDS = {"tok_sandbox_visa": N_("Test card that is accepted"),
                 DECLINED: N_("Test card that is declined")}
ATTACH = {"none": N_("Nothing"), "photo": N_("A photo (JPEG or PNG)"),
          "videogram": N_("A videogram (MP4, up to 30 seconds)")}

keep("/family/write", ("resident", "body", "uid", "attach", "attachment"))
keep("/family/contacts", ("resident_agency_id", "relationship"))
keep("/family/stamps", ("resident", "offer"))
sessions.FORM_PAGES.update({"/family/send": "/family/write",
                            "/family/write/edit": "/family/write"})


@dataclass(frozen=True)
class Me:
    id: int
    name: str


def me(request: Request, visit: VisitDep, c: CentralDep) -> Me:
    signed = sessions.signed_in(c, request, visit, AREA)
    with c.db.read() as conn:
        return Me(signed.session.subject_id, queries.contact_name(conn, signed.session.subject_id))


MeDep = Annotated[Me, Depends(me)]


def nav(_: Gettext) -> list[tuple[str, str]]:
    return [("/family", _("Home")), ("/family/messages", _("Messages")),
            ("/family/write", _("Write")), ("/family/stamps", _("Stamps")),
            ("/family/contacts", _("Contacts"))]


def page(request: Request, visit: Visit, template: str, who: Me | None, *,
         status: int = 200, **context: Any) -> Response:
    _ = visit.gettext
    done = DONE.get(request.query_params.get("done", ""))
    if who is not None and "zone" not in context:  # the agency of the residents they write to
        with site_of(request).central.db.read() as conn:
            context["zone"] = dates.contact_zone(conn, who.id)
    return site_of(request).render(request, template, status=status, area=AREA,
                                   who=who.name if who else None,
                                   nav=nav(_) if who else [], done=_(done) if done else "",
                                   **context)


# -- logging in ------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, visit: VisitDep) -> Response:
    next_path = security.local_path(request.query_params.get("next"), area=HOME, default=HOME)
    return login_page(request, AREA, Form({}), next_path=next_path, kept={}, ended=False,
                      status=200, visit=visit)


@router.post("/login")
def login_post(request: Request, visit: VisitDep, c: CentralDep) -> Response:
    return login(c, request, visit, AREA, home=HOME, name_field="email",
                 log_in=lambda email, password: accounts.login_contact(
                     c, email, password, address=client(request)))


@router.post("/language")
def language(request: Request, visit: VisitDep) -> Response:
    return set_language(request, visit, AREA)


@router.post("/logout")
def logout(request: Request, visit: VisitDep, c: CentralDep) -> Response:
    return sessions.close_session(c, request, visit, AREA)


@router.get("/signup")
def signup_form(request: Request, visit: VisitDep, c: CentralDep) -> Response:
    return _signup_page(request, visit, c, Form({}))


def _signup_page(request: Request, visit: Visit, c: Central, form: Form,
                 status: int = 200) -> Response:
    asked = accounts.identity_fields_asked(c)
    return page(request, visit, "family/signup.html", None, status=status, form=form,
                identity=[(f, visit.gettext(IDENTITY_LABELS[f])) for f in asked])


def _today(c: Central) -> datetime.date:
    return datetime.datetime.fromtimestamp(c.clock(), datetime.UTC).date()


@router.post("/signup")
def signup(request: Request, visit: VisitDep, c: CentralDep) -> Response:
    _ = visit.gettext
    asked = accounts.identity_fields_asked(c)
    form = forms.check_signup(form_of(visit), asked, _)
    try:  # every field's problem at once: the service would stop at the first
        check_identity(asked, form.values, today=_today(c))
    except InvalidFields as e:
        for name, message in forms.identity_errors(e, _).items():
            form.refuse(name, message)
    if form.values.get("password"):
        try:
            check_new_password(form.values["password"])
        except InvalidInput as e:
            form.refuse("password", _("This password is too easy to guess.")
                        if e.code == "password_trivial"
                        else _("A password is 10 to 200 characters."))
    if form.ok:
        try:
            accounts.register_contact(c, form.get("email"), form.get("name"),
                                      form.values["password"],
                                      identity={f: form.get(f) for f in asked})
            done = accounts.login_contact(c, form.get("email"), form.values["password"],
                                          address=client(request))
        except CentralError as e:
            forms.service_refusal(form, e, {
                "bad_email": ("email", _("This is not an email address.")),
                "email_taken": ("email", _("An account with this email exists. Log in, "
                                           "or use another email.")),
                "bad_name": ("name", _("Write your name (up to 200 characters).")),
                "password_length": ("password", _("A password is 10 to 200 characters.")),
                "password_trivial": ("password", _("This password is too easy to guess.")),
            }, _)
        else:
            sessions.open_session(visit, AREA, done, c.clock())
            return redirect(request, "/family/contacts?done=signed_up")
    form.values["password"] = form.values["password_again"] = ""
    return _signup_page(request, visit, c, form, status=422)


# -- home and messages -------------------------------------------------------------


@router.get("")
def home(request: Request, visit: VisitDep, who: MeDep, c: CentralDep) -> Response:
    with c.db.read() as conn:
        requests_ = queries.contact_requests(conn, who.id)
        items, _more = queries.feed_page(conn, f"contact:{who.id}", None, size=5)
        shown = _feed_view(conn, who.id, items, visit)
    balances = _balances(c, who.id, requests_)
    return page(request, visit, "family/home.html", who, requests=requests_,
                statuses=_statuses(visit), balances=balances, items=shown)


@router.get("/messages")
def messages_page(request: Request, visit: VisitDep, who: MeDep, c: CentralDep) -> Response:
    before = _int(request.query_params.get("before"))
    with c.db.read() as conn:
        items, older = queries.feed_page(conn, f"contact:{who.id}", before)
        shown = _feed_view(conn, who.id, items, visit)
    return page(request, visit, "family/messages.html", who, items=shown, older=older)


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 16 else None


@dataclass(frozen=True)
class Shown:
    """A feed record as the family sees it."""

    kind: str  # message, notice
    at: int
    resident: str
    outgoing: bool
    text: str
    attachments: list[dict[str, Any]]
    tone: str  # "", held, rejected, approved
    quote: str  # a notice: the start of the family's own message it is about


QUOTE_CHARS = 160


def _feed_view(conn: Any, contact_id: int, items: list[queries.FeedItem],
               visit: Visit) -> list[Shown]:
    _ = visit.gettext
    names = _resident_names(conn, contact_id)
    uids = [u for u in (i.body.get("message_uid") for i in items if i.kind == "notice")
            if isinstance(u, str)]
    about = {r.uid: r for r in conn.execute(
        select(messages.c.uid, messages.c.direction, messages.c.resident_id, messages.c.body)
        .where(messages.c.uid.in_(uids), messages.c.contact_id == contact_id))} if uids else {}
    shown = []
    for item in items:
        body = item.body
        if item.kind == "message":
            resident = names.get(int(body.get("resident_id", 0)), "") or _("a resident")
            shown.append(Shown("message", item.created_at, resident,
                               body.get("direction") == "to_resident",
                               str(body.get("body", "")), list(body.get("attachments", [])),
                               "", ""))
            continue
        message = about.get(body.get("message_uid"))
        resident = names.get(message.resident_id, "") if message is not None else ""
        outgoing = message is None or message.direction == "to_resident"
        quote = ""
        if message is not None and outgoing:  # never the text of a message kept from them
            quote = message.body if len(message.body) <= QUOTE_CHARS \
                else message.body[:QUOTE_CHARS].rstrip() + "…"
        shown.append(Shown("notice", item.created_at, resident or _("a resident"), outgoing,
                           _notice_text(body, outgoing, visit), [],
                           str(body.get("notice", "")).removeprefix("message_"), quote))
    return shown


def _resident_names(conn: Any, contact_id: int) -> dict[int, str]:
    """The residents whose names the family may see: those who approved them."""
    rows = conn.execute(select(residents.c.id, residents.c.name)
                        .join(approvals, approvals.c.resident_id == residents.c.id)
                        .where(approvals.c.contact_id == contact_id,
                               approvals.c.status == "approved")).all()
    return {int(r.id): str(r.name) for r in rows}


def _notice_text(body: dict[str, Any], outgoing: bool, visit: Visit) -> str:
    _, _n = visit.gettext, visit.ngettext
    notice = body.get("notice")
    if notice == "message_held":
        return _("Your message is being reviewed by staff before delivery.")
    if notice == "message_approved":
        return _("Your message was reviewed and delivered.")
    if notice == "message_rejected":
        said = reason_text(body.get("reason_code"), visit.language)
        if not outgoing:
            return _("A message to you was not delivered. {reason}", reason=said).strip()
        text = _("Your message was not delivered. {reason}", reason=said).strip()
        refunded = int(body.get("stamps_refunded") or 0)
        expired = int(body.get("stamps_expired") or 0)
        if refunded:
            text += " " + _n("{n} stamp was returned to you.", "{n} stamps were returned to you.",
                             refunded)
        if expired:
            text += " " + _n("{n} of them came from a plan that has ended, and has expired "
                             "with it.", "{n} of them came from a plan that has ended, and have "
                             "expired with it.", expired)
        return text
    texts = body.get("texts")  # a notice worded in each language (a part withheld)
    if isinstance(texts, dict) and isinstance(texts.get(visit.language), str):
        return str(texts[visit.language])
    return str(body.get("text", ""))


@router.get("/files/{sha256}")
def file(sha256: str, who: MeDep, c: CentralDep) -> Response:
    """A photo or videogram of the family's own messages, shown inline."""
    check_sha256(sha256)
    with c.db.read() as conn:
        media_type = queries.file_of_contact(conn, who.id, sha256)
    path = c.blobs.path(sha256)
    if media_type is None or not path.is_file():
        raise NotFound(f"no file {sha256}")
    return FileResponse(path, media_type=media_type, headers={
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"})


# -- contacts ---------------------------------------------------------------------


def _statuses(visit: Visit) -> dict[str, str]:
    return {k: visit.gettext(v) for k, v in STATUSES.items()}


@router.get("/contacts")
def contacts_page(request: Request, visit: VisitDep, who: MeDep, c: CentralDep) -> Response:
    return _contacts(request, visit, c, who, Form({}))


def _contacts(request: Request, visit: Visit, c: Central, who: Me, form: Form,
              status: int = 200, identity: tuple[str, ...] = ()) -> Response:
    with c.db.read() as conn:
        requests_ = queries.contact_requests(conn, who.id)
    return page(request, visit, "family/contacts.html", who, status=status, form=form,
                requests=requests_, statuses=_statuses(visit),
                identity=[(f, visit.gettext(IDENTITY_LABELS[f])) for f in identity])


def _resume_contacts(request: Request, contact_id: int, kept: dict[str, str]) -> Response:
    c: Central = request.app.state.central
    with c.db.read() as conn:
        who = Me(contact_id, queries.contact_name(conn, contact_id))
    visit = visit_of(request)
    form = Form(kept, problem=visit.gettext(
        "You were logged out, so this was not sent. What you typed is below: check it and "
        "send it again."))
    return _contacts(request, visit, c, who, form)


RESUME["/family/contacts"] = _resume_contacts


@router.post("/contacts")
def ask_contact(request: Request, visit: VisitDep, who: MeDep, c: CentralDep) -> Response:
    _ = visit.gettext
    values = form_of(visit)
    form = forms.check_contact_request(values, _)
    identity_asked: tuple[str, ...] = tuple(f for f in IDENTITY_LABELS if f in values)
    if form.ok:
        try:
            accounts.request_approval(c, who.id, form.get("resident_agency_id"),
                                      form.get("relationship"),
                                      identity={f: values[f] for f in identity_asked})
        except InvalidFields as e:
            identity_asked = tuple(f for f in IDENTITY_LABELS
                                   if f in e.fields or f in identity_asked)
            form.problem = _("The resident's agency asks you to tell it more about yourself.")
            forms.service_refusal(form, e, {}, _)
        except NotFound:
            form.refuse("resident_agency_id", _("No resident has this ID number. Check it "
                                                "with the resident or the facility."))
        except CentralError as e:
            forms.service_refusal(form, e, {"bad_relationship": (
                "relationship", _("Say how you know the resident (up to 64 characters)."))}, _)
        else:
            return redirect(request, "/family/contacts?done=asked")
    return _contacts(request, visit, c, who, form, status=422, identity=identity_asked)


# -- stamps -----------------------------------------------------------------------


@dataclass(frozen=True)
class AgencyStamps:
    agency: str
    agency_name: str
    resident_agency_id: str  # one approved resident of the agency, to name it to the services
    balance: int
    next_expiry: int | None
    policy: PricingPolicy


def _balances(c: Central, contact_id: int,
              requests_: list[queries.ContactRequest]) -> list[AgencyStamps]:
    out: dict[str, AgencyStamps] = {}
    for r in requests_:
        if r.status != "approved" or r.agency in out:
            continue
        held = money.balances(c, messaging.contact_owner(contact_id, r.agency))
        with c.db.read() as conn:
            policy = queries.policy(conn, r.agency)
        out[r.agency] = AgencyStamps(r.agency, r.agency_name, r.resident_agency_id,
                                     held.stamps, held.next_expiry, policy)
    return list(out.values())


@router.get("/stamps")
def stamps_page(request: Request, visit: VisitDep, who: MeDep, c: CentralDep) -> Response:
    return _stamps(request, visit, c, who, Form({}))


def _stamps(request: Request, visit: Visit, c: Central, who: Me, form: Form,
            status: int = 200) -> Response:
    _ = visit.gettext
    page_no = _int(request.query_params.get("page")) or 0
    with c.db.read() as conn:
        requests_ = queries.contact_requests(conn, who.id)
    agencies = _balances(c, who.id, requests_)
    histories = {}
    for a in agencies:
        with c.db.read() as conn:
            histories[a.agency] = queries.stamp_history(
                conn, messaging.contact_owner(who.id, a.agency), page_no)
    form.values.setdefault("key", secrets.token_urlsafe(24))
    sandbox = isinstance(c.payments, SandboxCardPayments)
    return page(request, visit, "family/stamps.html", who, status=status, form=form,
                agencies=agencies, histories=histories, page_no=page_no,
                kinds={k: _(v) for k, v in HISTORY.items()},
                cards={k: _(v) for k, v in SANDBOX_CARDS.items()} if sandbox else {})


RESUME["/family/stamps"] = lambda request, contact_id, kept: _resume(
    request, contact_id, kept, _stamps)


@router.post("/stamps")
def buy(request: Request, visit: VisitDep, who: MeDep, c: CentralDep) -> Response:
    _ = visit.gettext
    form = Form(form_of(visit))
    with c.db.read() as conn:
        approved = {r.resident_agency_id: r for r in queries.contact_requests(conn, who.id)
                    if r.status == "approved"}
    forms.check_choice(form, "resident", approved, _)
    forms.check_choice(form, "card", SANDBOX_CARDS, _)
    forms.check_key(form, "key", _)
    if form.ok:
        with c.db.read() as conn:
            offers = queries.policy(conn, approved[form.get("resident")].agency).offers
        forms.check_choice(form, "offer", {o.id: o for o in offers}, _)
    if form.ok:
        try:
            money.buy_stamps_for_contact(c, who.id, resident_agency_id=form.get("resident"),
                                         offer_id=form.get("offer"), card_token=form.get("card"),
                                         key=form.get("key"))
        except CentralError as e:
            forms.service_refusal(form, e, {
                "card_declined": ("card", _("The card was declined. Nothing was charged.")),
                "unknown_offer": ("offer", _("Choose one of these.")),
            }, _)
        else:
            return redirect(request, "/family/stamps?done=bought")
    return _stamps(request, visit, c, who, form, status=422)


# -- writing ----------------------------------------------------------------------


def _approved(c: Central, contact_id: int) -> dict[str, queries.ContactRequest]:
    with c.db.read() as conn:
        return {r.resident_agency_id: r for r in queries.contact_requests(conn, contact_id)
                if r.status == "approved"}


@router.get("/write")
def write_page(request: Request, visit: VisitDep, who: MeDep, c: CentralDep) -> Response:
    values = {"resident": request.query_params.get("to", "")}
    return _write(request, visit, c, who, Form(values))


def _write(request: Request, visit: Visit, c: Central, who: Me, form: Form,
           status: int = 200) -> Response:
    approved = _approved(c, who.id)
    if form.get("resident") not in approved and len(approved) == 1:
        form.values["resident"] = next(iter(approved))
    if not form.values.get("uid"):
        form.values["uid"] = "web-" + secrets.token_urlsafe(18)
    form.values.setdefault("attach", "none")
    chosen = approved.get(form.get("resident"))
    agencies = {a.agency: a for a in _balances(c, who.id, list(approved.values()))}
    stamps = agencies[chosen.agency] if chosen is not None else None
    return page(request, visit, "family/write.html", who, status=status, form=form,
                approved=approved, stamps=stamps, cost=_cost(form, stamps),
                attach={k: visit.gettext(v) for k, v in ATTACH.items()})


def _cost(form: Form, stamps: AgencyStamps | None) -> int | None:
    if stamps is None:
        return None
    kind = form.get("attach")
    try:
        return message_cost(stamps.policy, photos=int(kind == "photo"),
                            videograms=int(kind == "videogram"))
    except InvalidInput:
        return None


def _resume(request: Request, contact_id: int, kept: dict[str, str], show: Any) -> Response:
    c: Central = request.app.state.central
    visit = visit_of(request)
    with c.db.read() as conn:
        who = Me(contact_id, queries.contact_name(conn, contact_id))
    form = Form(dict(kept), problem=visit.gettext(
        "You were logged out, so this was not sent. What you typed is below: check it and "
        "send it again."))
    response: Response = show(request, visit, c, who, form)
    return response


RESUME["/family/write"] = lambda request, contact_id, kept: _resume(
    request, contact_id, kept, _write)


@router.get("/write/cost")
def cost_fragment(request: Request, visit: VisitDep, who: MeDep, c: CentralDep) -> Response:
    """The cost box of the write page, for htmx to swap in when the choice changes."""
    form = Form({"resident": request.query_params.get("resident", ""),
                 "attach": request.query_params.get("attach", "none")})
    approved = _approved(c, who.id)
    chosen = approved.get(form.get("resident"))
    agencies = {a.agency: a for a in _balances(c, who.id, list(approved.values()))}
    stamps = agencies[chosen.agency] if chosen is not None else None
    return site_of(request).render(request, "family/_cost.html", cost=_cost(form, stamps),
                                   stamps=stamps)


@router.post("/write/edit")
def write_again(request: Request, visit: VisitDep, who: MeDep, c: CentralDep) -> Response:
    return _write(request, visit, c, who, Form(form_of(visit)))


@router.post("/write")
def preview(request: Request, visit: VisitDep, who: MeDep, c: CentralDep) -> Response:
    """Check the message, keep its photo or videogram, and show what it
    costs before it is sent."""
    _ = visit.gettext
    form = Form(form_of(visit))
    approved = _approved(c, who.id)
    forms.check_choice(form, "resident", approved, _)
    forms.check_choice(form, "attach", ATTACH, _)
    forms.check_key(form, "uid", _)
    upload = visit.form.get("file") if visit.form is not None else None
    kind = form.get("attach")
    has_file = isinstance(upload, UploadFile) and bool(upload.filename)
    if kind != "none" and not has_file and not form.get("attachment"):
        form.refuse("file", _("Choose the file to attach."))
    if kind == "none" and not form.get("body"):
        form.refuse("body", _("Write something, or attach a photo or a videogram."))
    chosen = approved.get(form.get("resident"))
    stamps = None
    if chosen is not None:
        stamps = {a.agency: a for a in _balances(c, who.id, [chosen])}[chosen.agency]
        limit = stamps.policy.max_message_chars
        if len(form.values.get("body", "")) > limit:
            form.refuse("body", _("A message is at most {n} characters.", n=limit))
    if form.ok and has_file and isinstance(upload, UploadFile):
        try:
            form.values["attachment"] = _store(c, who.id, kind, upload)
        except (InvalidInput, TooLarge, OverQuota) as e:
            form.refuse("file", _file_problem(e, c, kind, _))
    if form.ok and kind != "none":
        check_sha256(form.get("attachment"))
    if not form.ok or stamps is None:
        if "file" in form.errors:
            form.values.pop("attachment", None)
        return _write(request, visit, c, who, form, status=422)
    cost = _cost(form, stamps)
    return page(request, visit, "family/confirm.html", who, form=form, resident=chosen,
                stamps=stamps, cost=cost, enough=cost is not None and cost <= stamps.balance)


def _file_problem(e: CentralError, c: Central, kind: str, _: Gettext) -> str:
    if e.code == "over_quota":
        return _("There is no room for this file: your files not yet delivered fill your "
                 "storage. Send or wait for those first.")
    if e.code == "too_large":
        limit = c.settings.max_photo_bytes if kind == "photo" else c.settings.max_videogram_bytes
        return _("The file is too large: at most {n} MB.", n=limit // 1_000_000)
    if e.code == "empty":
        return _("The file is empty.")
    if kind == "photo":
        return _("This is not a JPEG or PNG photo.")
    return _("This is not an MP4 videogram.")


def _store(c: Central, contact_id: int, kind: str, upload: UploadFile) -> str:
    """Keep an attached file (streamed from the form's spooled copy to the
    blob store) as the family's upload for messages, within its size limit and
    the family's storage quota. Raises InvalidInput, TooLarge or OverQuota;
    nothing is kept when it raises."""
    media_type = (upload.content_type or "").split(";")[0].strip().lower()
    if media_type not in messaging.ATTACHMENT_TYPES[kind]:
        raise InvalidInput(f"a {kind} is {' or '.join(messaging.ATTACHMENT_TYPES[kind])}",
                           code="wrong_attachment_type")
    limit = c.settings.max_photo_bytes if kind == "photo" else c.settings.max_videogram_bytes
    uploader = f"contact:{contact_id}"
    quota = uploads.storage(c, uploader)
    stream = upload.file
    stream.seek(0)
    check_content(media_type, stream.read(16))
    stream.seek(0)
    incoming = c.blobs.incoming(max_size=limit)
    try:
        seen = 0
        while block := stream.read(256 * 1024):
            seen += len(block)
            if seen > limit:
                raise TooLarge(f"the upload is over {limit} bytes", limit=limit)
            if quota is not None:
                quota.check(seen)
            incoming.write(block)
        incoming.finish()
        stored = uploads.keep(c, incoming, media_type, uploader=uploader, purpose="message")
    finally:
        incoming.discard()
    return stored.sha256


@router.post("/send")
def send(request: Request, visit: VisitDep, who: MeDep, c: CentralDep) -> Response:
    _ = visit.gettext
    form = Form(form_of(visit))
    approved = _approved(c, who.id)
    forms.check_choice(form, "resident", approved, _)
    forms.check_choice(form, "attach", ATTACH, _)
    forms.check_key(form, "uid", _)
    kind = form.get("attach")
    attached = []
    if form.ok and kind != "none":
        attached = [messaging.Attachment(kind, check_sha256(form.get("attachment")))]
    if form.ok:
        try:
            sent = messaging.send_from_contact(c, who.id, uid=form.get("uid"),
                                               resident_agency_id=form.get("resident"),
                                               body=form.values.get("body", ""),
                                               attached=attached)
        except InsufficientFunds:
            form.problem = _("You do not have enough stamps for this message. Buy stamps, "
                             "then send it again: it is kept below.")
        except CentralError as e:
            forms.service_refusal(form, e, {
                "too_long": ("body", _("This message is too long.")),
                "empty_message": ("body", _("Write something, or attach a photo or a "
                                            "videogram.")),
            }, _)
        else:
            return redirect(request, f"/family/messages?done="
                                     f"{'held' if sent.status == 'held' else 'sent'}")
    return _write(request, visit, c, who, form, status=422)


@router.get("/{rest:path}")
def nothing_here(rest: str) -> Response:
    raise NotFound(f"no page {rest[:80]}")
