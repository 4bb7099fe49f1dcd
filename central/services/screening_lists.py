"""Keyword lists: edited by staff at any time, every edit a new version, and
the compiled screen that applies to one resident's messages."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, or_, select, update

from central.database import for_update
from central.errors import Conflict, InvalidInput, NotFound
from central.schema import keyword_list_versions, keyword_lists, residents
from central.screening import SCOPES, KeywordTerm, Screen
from central.services.core import Central, audit
from central.services.scope import Scope

log = logging.getLogger(__name__)
MAX_TERMS = 20_000
MAX_CACHED_SCREENS = 64
_CACHE_LOCK = threading.Lock()


@dataclass(frozen=True)
class KeywordList:
    id: int
    scope: str
    scope_id: str
    language: str
    version: int
    terms: tuple[str, ...]


def _covers(conn: Connection, reach: Scope, scope: str, scope_id: str) -> bool:
    """Whether a staff member may see the list at ``scope``/``scope_id``: their
    agency's, their facilities', their units', their residents'."""
    if reach.is_system:
        return True
    if scope == "agency":
        return reach.covers_agency(scope_id)
    if scope == "facility":
        return reach.covers_facility(scope_id)
    if scope == "unit":
        return reach.covers_unit(scope_id)
    if not scope_id.isdigit():
        return False
    facility = conn.execute(select(residents.c.facility_id).where(
        residents.c.id == int(scope_id))).scalar()
    return reach.covers_facility(facility)


def save_list(c: Central, *, scope: str, scope_id: str, language: str,
              terms: Sequence[str], reach: Scope,
              expected_version: int | None = None) -> KeywordList:
    """Replace a list's terms with a new version. ``expected_version`` guards
    against two reviewers overwriting each other (Conflict). An agency's own
    list is an agency administrator's to change; the others, any reviewer's
    whose reach covers them."""
    if scope not in SCOPES:
        raise InvalidInput(f"scope must be one of {', '.join(SCOPES)}")
    if scope == "agency":
        reach.agency_level("change the agency's keyword lists")
    staff_id = reach.staff_id
    if staff_id is None:  # the history names who changed a list: a staff member
        raise InvalidInput("a keyword list is changed by a staff member, who is named in "
                           "its history")
    if not (0 < len(language) <= 8 and language.isalpha()):
        raise InvalidInput("language must be a language code such as 'en'")
    cleaned = sorted({t.strip() for t in terms if t.strip()})
    if len(cleaned) > MAX_TERMS:
        raise InvalidInput(f"a list holds at most {MAX_TERMS} terms")
    # Compile once now: a term that cannot be matched is refused before it is saved.
    Screen.build(KeywordTerm(t, scope, scope_id, language, 0) for t in cleaned)
    with c.db.write() as conn:
        if not _covers(conn, reach, scope, scope_id):
            raise NotFound(f"no {scope} {scope_id}")
        row = conn.execute(for_update(select(keyword_lists).where(
            keyword_lists.c.scope == scope, keyword_lists.c.scope_id == scope_id,
            keyword_lists.c.language == language))).first()
        current = 0 if row is None else int(row.version)
        if expected_version is not None and expected_version != current:
            raise Conflict(f"the list is at version {current}, not {expected_version}; "
                           "reload it and edit again", code="stale_version")
        if row is None:
            list_id = int(conn.execute(keyword_lists.insert().values(
                scope=scope, scope_id=scope_id, language=language, version=1)
                .returning(keyword_lists.c.id)).scalar_one())
        else:
            list_id = int(row.id)
            conn.execute(update(keyword_lists).where(keyword_lists.c.id == list_id)
                         .values(version=current + 1))
        conn.execute(keyword_list_versions.insert().values(
            list_id=list_id, version=current + 1, terms=json.dumps(cleaned),
            edited_by=staff_id, edited_at=c.clock()))
        place: dict[str, Any] = {"agency": scope_id} if scope == "agency" else \
            {"facility": scope_id} if scope == "facility" else {"unit": scope_id} \
            if scope == "unit" else {"resident": int(scope_id)} if scope_id.isdigit() else {}
        audit(conn, c, staff_id, "keywords.save", f"keyword_list:{list_id}", **place,
              version=current + 1, scope=scope, scope_id=scope_id, language=language,
              terms=len(cleaned))
    return KeywordList(list_id, scope, scope_id, language, current + 1, tuple(cleaned))


def get_list(c: Central, list_id: int, version: int | None = None, *,
             reach: Scope) -> KeywordList:
    with c.db.read() as conn:
        row = conn.execute(select(keyword_lists).where(keyword_lists.c.id == list_id)).first()
        if row is None or not _covers(conn, reach, row.scope, row.scope_id):
            raise NotFound(f"no keyword list {list_id}")
        want = row.version if version is None else version
        terms = conn.execute(select(keyword_list_versions.c.terms).where(
            keyword_list_versions.c.list_id == list_id,
            keyword_list_versions.c.version == want)).scalar()
        if terms is None:
            raise NotFound(f"keyword list {list_id} has no version {want}")
    return KeywordList(row.id, row.scope, row.scope_id, row.language, want,
                       tuple(json.loads(terms)))


def all_lists(c: Central, *, reach: Scope) -> list[KeywordList]:
    """The lists a staff member may see (their terms left out)."""
    with c.db.read() as conn:
        rows = conn.execute(select(keyword_lists).order_by(keyword_lists.c.id)).all()
        rows = [r for r in rows if _covers(conn, reach, r.scope, r.scope_id)]
    return [KeywordList(r.id, r.scope, r.scope_id, r.language, r.version, ()) for r in rows]


def screen_for(conn: Connection, c: Central, resident: Row[tuple[object, ...]]) -> Screen:
    """The compiled screen for a resident's messages: every list at the agency,
    facility, unit and resident scope, in every language (a message cannot
    dodge a list by being labelled another language)."""
    scopes = [("agency", str(resident.agency)), ("facility", str(resident.facility_id)),
              ("unit", str(resident.unit_id)), ("resident", str(resident.id))]
    rows = conn.execute(select(keyword_lists).where(or_(*[
        and_(keyword_lists.c.scope == s, keyword_lists.c.scope_id == i) for s, i in scopes]))
        .order_by(keyword_lists.c.id)).all()
    key = tuple((int(r.id), int(r.version)) for r in rows)
    with _CACHE_LOCK:
        screen = c.screens.get(key)
    if screen is None:
        terms: list[KeywordTerm] = []
        for r in rows:
            text = conn.execute(select(keyword_list_versions.c.terms).where(
                keyword_list_versions.c.list_id == r.id,
                keyword_list_versions.c.version == r.version)).scalar_one()
            terms.extend(KeywordTerm(t, r.scope, r.scope_id, r.language, r.version)
                         for t in json.loads(text))
        screen = Screen.build(terms)
        with _CACHE_LOCK:
            while len(c.screens) >= MAX_CACHED_SCREENS:
                c.screens.pop(next(iter(c.screens)))
            c.screens[key] = screen
    return screen
