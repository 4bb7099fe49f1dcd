"""The Facility System under /staff: staff log in with their accounts and
see what their role works on, in their own facility (an agency
administrator: the whole agency). Every page takes the staff member's
:class:`~central.services.scope.Scope`; a row out of reach is not found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from central.api.auth import CentralDep
from central.errors import NotFound
from central.schema import approvals, holds, messages, residents, staff
from central.services import accounts
from central.services.scope import Scope
from central.web import queries, security, sessions
from central.web.forms import Form
from central.web.i18n import N_, Gettext
from central.web.login import client, login, login_page
from central.web.site import HtmlRoute, Visit, VisitDep, guard, highlighted, set_language, site_of

AREA = security.STAFF
HOME = "/staff"
QUEUE_PAGE = 50
router = APIRouter(prefix="/staff", route_class=HtmlRoute, dependencies=[Depends(guard)],
                   include_in_schema=False)

# The pages of the Facility System, and who sees each in their navigation
# (administrators see everything). A page is listed here once it is built.
NAV: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("/staff", N_("Home"), frozenset(accounts.STAFF_ROLES)),
    ("/staff/review", N_("Review queue"), frozenset({"reviewer", "investigator"})),
)
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
    return site_of(request).render(
        request, template, status=status, area=AREA,
        who=f"{who.name} ({_(ROLES[who.role])})" if who else None,
        nav=nav_for(who.role, _) if who else [], done="", **context)


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
    return page(request, visit, "staff/home.html", who, open_holds=open_holds,
                pending=pending, role=who.role,
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


def _int(text: str | None) -> int:
    return int(text) if text and text.isdigit() and len(text) < 9 else 0


@router.get("/{rest:path}")
def nothing_here(rest: str) -> Response:
    raise NotFound(f"no page {rest[:80]}")
