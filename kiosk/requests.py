"""Essential requests filed at the kiosk: medical, grievance, PREA report,
legal and records.

Each is kept in the kiosk's cache first (sealed), sent at once with its
writer's session if the central server answers (the answer is its receipt
number), else by a later round; one whose writer's session ended waits for
their next login. While the server is away the request carries a reference
made here (``K-...``), printed on its paper copy and sent with it, so the
server's record names the paper the resident holds. The uid made here keeps
a retry from filing twice.

The paper copy (:func:`paper_copy`) is pure: the receipt number, or the
kiosk's reference, the type, when, and the deadline, in the resident's
language with its dates written that language's way; a PREA report's copy
carries none of its words (paper left at a unit's printer is read by
whoever picks it up).
"""

from __future__ import annotations

import contextlib
import logging
import secrets

from kiosk.answers import Answer, FiledRequest
from kiosk.cache import QUEUED, REFUSED, SENT, KioskCache, Pending
from kiosk.central_client import CentralClient, CentralRefused, CentralUnavailable
from kiosk.i18n import N_, Translator, date_time
from kiosk.letters import settle_refused
from kiosk.records import EssentialRequest

log = logging.getLogger(__name__)

TYPES = ("medical", "grievance", "prea", "legal", "records")
PREA = "prea"
MAX_REQUEST_CHARS = 4000
# References: no 0/O or 1/I/L to misread aloud (as the server's receipts).
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_PAPER_NAMES = {"medical": N_("Medical request"), "grievance": N_("Grievance"),
                "prea": N_("PREA report"), "legal": N_("Legal request"),
                "records": N_("Records request")}
_PAPER_WIDTH = 42


def new_reference() -> str:
    """A reference made at the kiosk, like ``K-7KQ2-M9XD``."""
    chars = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"K-{chars[:4]}-{chars[4:]}"


def check_request(type_: str, body: str) -> str:
    """The request's text, stripped. Raises ValueError."""
    if type_ not in TYPES:
        raise ValueError(f"a request is one of {', '.join(TYPES)}, not {type_!r}")
    text = body.strip()
    if not 0 < len(text) <= MAX_REQUEST_CHARS:
        raise ValueError(f"a request is 1 to {MAX_REQUEST_CHARS} characters")
    return text


def paper_copy(filed: FiledRequest, *, body: str, name: str, agency_id: str, location: str,
               days: int, t: Translator) -> str:
    """The printed copy of a request, in the language ``t`` speaks now, its
    dates written as that language writes them: pure. A PREA report's words
    are never printed."""
    at = date_time(filed.written_at, t.language)
    due = (date_time(filed.due_at, t.language) if filed.due_at
           else t("within {days} days of reaching staff", days=days))
    rule = "-" * _PAPER_WIDTH
    lines = [rule, t(_PAPER_NAMES.get(filed.type, filed.type)).upper(), rule]
    if filed.receipt:
        lines.append(t("Receipt number: {number}", number=filed.receipt))
    else:
        lines += [t("Kiosk reference: {reference}", reference=filed.reference),
                  t("The central server was away: this kiosk keeps the request and sends "
                    "it when it is back. Your receipt number then shows under Requests.")]
    lines += [t("Resident: {name} ({agency_id})", name=name, agency_id=agency_id),
              t("Written: {at}", at=at), t("At kiosk: {location}", location=location),
              t("Answer due: {due}", due=due), rule]
    if filed.type == PREA:
        lines.append(t("Your report was received. For your safety its words are not "
                       "printed here or kept at the kiosk."))
    else:
        lines += _wrap(body)
    lines.append(rule)
    return "\n".join(part for line in lines for part in _wrap(line))


def _wrap(text: str) -> list[str]:
    """Lines of at most the paper's width (a word longer than that is cut)."""
    out: list[str] = []
    for paragraph in text.splitlines() or [""]:
        words = [w[i:i + _PAPER_WIDTH] for w in paragraph.split()
                 for i in range(0, len(w), _PAPER_WIDTH)]
        line = ""
        for word in words:
            if line and len(line) + 1 + len(word) > _PAPER_WIDTH:
                out.append(line)
                line = word
            else:
                line = f"{line} {word}" if line else word
        out.append(line)
    return out


class Requests:
    """The essential requests of one kiosk, over ``client`` (the residents'
    connection)."""

    def __init__(self, client: CentralClient, cache: KioskCache) -> None:
        self.client = client
        self.cache = cache

    def file(self, *, resident_id: int, token: str, type_: str, body: str,
             uid: str | None = None) -> Answer[FiledRequest]:
        """Keep a request, then send it now if the server answers. The same
        ``uid`` again files nothing twice."""
        try:
            text = check_request(type_, body)
        except ValueError as e:
            return Answer.no("bad_request", str(e))
        uid = uid or "kr-" + secrets.token_urlsafe(18)
        self.cache.queue_request(uid, resident_id=resident_id, type_=type_, body=text,
                                 token=token, reference=new_reference())
        with contextlib.suppress(CentralUnavailable):  # it stays queued for the rounds
            self.send(uid)
        filed = self.filed(resident_id, uid)
        if filed is None:  # the uid is another resident's request's
            return Answer.no("uid_taken", "Write it again.")
        if filed.state == REFUSED:
            return Answer(False, filed, "refused", filed.note)
        return Answer.of(filed)

    def filed(self, resident_id: int, uid: str | None = None) -> FiledRequest | None:
        """One of a resident's requests filed here (``uid``), or the newest."""
        for row in self.cache.requests_of(resident_id):
            if uid is None or row["uid"] == uid:
                return _filed(row)
        return None

    def here(self, resident_id: int) -> list[FiledRequest]:
        """A resident's requests filed here, newest first."""
        return [_filed(row) for row in self.cache.requests_of(resident_id)]

    def renew(self, resident_id: int, token: str) -> None:
        """A resident logged in again: their waiting requests go up with the new session."""
        renewed = self.cache.renew_requests(resident_id, token)
        if renewed:
            log.info("%d requests of resident %d go up with their new session", renewed,
                     resident_id)

    def send(self, uid: str) -> None:
        """Send request ``uid`` now, if it is still waiting. Raises
        CentralUnavailable (it stays queued)."""
        with self.cache.sending:
            for item in self.cache.pending_requests(uid=uid):
                self._send(item)

    def send_pending(self) -> int:
        """A round's step (the caller holds ``cache.sending``): every waiting
        request; how many were sent. Raises CentralUnavailable."""
        return sum(self._send(item) == SENT for item in self.cache.pending_requests())

    def _send(self, item: Pending) -> str:
        p = item.payload
        offline = item.attempts > 0  # kept here: its paper copy carries the reference
        try:
            filed: EssentialRequest = self.client.file_request(
                p["token"], uid=item.key, type_=p["type"], body=p["body"],
                kiosk_reference=p["reference"] if offline else None,
                written_at=int(p["written_at"]) if offline else None)
        except CentralRefused as e:
            return settle_refused(self.cache, "requests", item.key, e,
                                  self.cache.request_waits_for_login)
        except CentralUnavailable:
            self.cache.settle("requests", item.key, QUEUED, "the server is away")
            raise
        self.cache.settle("requests", item.key, SENT, f"{filed.receipt} {filed.due_at}")
        log.info("request %s went up: receipt %s", item.key, filed.receipt)
        return SENT


def _filed(row: dict[str, object]) -> FiledRequest:
    state = str(row["state"])
    receipt, due = "", None
    result = str(row["result"])
    if state == SENT:
        number, _, at = result.partition(" ")
        receipt, due = number, int(at) if at.isdigit() else None
    return FiledRequest(str(row["uid"]), str(row["type"]), state, str(row["reference"]),
                        int(str(row["written_at"])), receipt, due,
                        result if state == REFUSED else "")
