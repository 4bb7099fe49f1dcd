"""What the resident sees on the tablet, read from its synced store: their
conversations (with the drafts waiting for the next dock), photos and
videograms, and the music and videos they bought. No Kivy here: the screens
ask this module and draw what it answers.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sync.captions import Captions, CaptionsError, parse
from sync.withheld import WithheldPart, withheld_parts
from tablet.store import TabletStore

log = logging.getLogger(__name__)

MAX_DRAFT_CHARS = 4000  # what the tablet lets a resident type in one message
REQUEST_TYPES = {"medical": "Medical request", "grievance": "Grievance",
                 "prea": "PREA report", "legal": "Legal request", "records": "Records request"}


@dataclass(frozen=True)
class Attachment:
    kind: str  # photo, videogram
    sha256: str
    here: bool  # False until the file has arrived
    captions: Captions | None = None  # a videogram's, when its sender supplied them


@dataclass(frozen=True)
class Message:
    uid: str
    incoming: bool  # from the family member (True) or written by the resident
    contact_id: int
    contact_name: str
    body: str
    sent_at: int  # 0 for a draft not yet sent
    attachments: tuple[Attachment, ...] = ()
    waiting: bool = False  # a draft that goes up at the next dock
    handed_at: int | None = None  # a draft a kiosk took, on its way to the family
    legal: bool = False  # privileged mail with a verified attorney (sealed, unscreened)
    withheld: tuple[WithheldPart, ...] = ()  # what staff withheld of it, and why

    @property
    def handed(self) -> bool:
        return self.handed_at is not None


@dataclass(frozen=True)
class Conversation:
    contact_id: int
    contact_name: str
    messages: tuple[Message, ...]

    @property
    def last(self) -> Message:
        return self.messages[-1]

    @property
    def waiting(self) -> int:
        return sum(1 for m in self.messages if m.waiting)

    @property
    def legal(self) -> bool:
        """Legal mail: the conversation of a verified attorney."""
        return any(m.legal for m in self.messages)


@dataclass(frozen=True)
class Request:
    """An essential request, as the resident follows it on the tablet.
    ``status`` is ``waiting`` (for a dock), ``handed`` (a kiosk took it) or
    the server's (filed, answered, escalated, resolved) once its notice came
    back; ``receipt`` and ``due_at`` come with that notice. ``text`` is empty
    for a PREA report once a kiosk has taken it, and for a request filed at a
    kiosk (the tablet hears only its notice)."""

    key: str
    type: str
    status: str
    written_at: int
    text: str = ""
    receipt: str = ""
    due_at: int | None = None
    news: str = ""  # the latest notice's sentence

    @property
    def name(self) -> str:
        return REQUEST_TYPES.get(self.type, self.type)


@dataclass(frozen=True)
class Track:
    item_id: str
    title: str
    artist: str
    kind: str  # song, music_video
    album: str | None
    album_id: str | None
    duration_s: int
    sha256: str
    here: bool  # False until the file has arrived
    captions: Captions | None = None

    @property
    def playable(self) -> bool:
        return self.here


@dataclass(frozen=True)
class Album:
    album_id: str
    title: str
    artist: str
    tracks: tuple[Track, ...] = field(default_factory=tuple)


class Library:
    """The resident's content on this tablet. Drafts are written for the
    owner (``resident``, else the owner the last dock named); a draft costs
    what the agency charges for one message (``stamps_per_message``, else the
    price the last dock brought, else 1), shown before it is saved."""

    def __init__(self, store: TabletStore, *, resident: str | None = None,
                 stamps_per_message: int | None = None) -> None:
        self.store = store
        self.resident = resident
        self.stamps_per_message = stamps_per_message

    @property
    def owner(self) -> str | None:
        return self.resident or self.store.owner()

    # -- messages -------------------------------------------------------------------

    def conversations(self) -> list[Conversation]:
        """One per family member, the most recent first."""
        by_contact: dict[int, list[Message]] = defaultdict(list)
        names: dict[int, str] = {}
        for item in self.store.items("message"):
            message = self._message(item["body"])
            if message is None:
                continue
            by_contact[message.contact_id].append(message)
            names[message.contact_id] = message.contact_name
        sent = {m.uid for ms in by_contact.values() for m in ms}
        owner = self.owner
        for draft in self.store.drafts():
            if draft.resident != owner:
                continue  # written by the tablet's previous owner: not this resident's
            if draft.uid in sent:
                continue  # it went up and came back down: shown once, as sent
            by_contact[draft.contact].append(Message(
                draft.uid, False, draft.contact, names.get(draft.contact, ""), draft.body, 0, (),
                waiting=draft.handed_at is None, handed_at=draft.handed_at))
        out = [Conversation(c, names.get(c, ""), tuple(sorted(
            ms, key=lambda m: (m.waiting, m.handed, m.sent_at or m.handed_at or 0))))
            for c, ms in by_contact.items()]
        return sorted(out, key=lambda c: (c.waiting > 0, c.last.sent_at), reverse=True)

    def conversation(self, contact_id: int) -> Conversation | None:
        return next((c for c in self.conversations() if c.contact_id == contact_id), None)

    def draft_cost(self, body: str) -> int:
        """Stamps a draft will cost when it is sent (text only from a tablet)."""
        if self.stamps_per_message is not None:
            return self.stamps_per_message
        price = self.store.recall("stamps_per_message", 1)
        return price if isinstance(price, int) else 1

    def write(self, contact_id: int, body: str) -> str:
        """Save a reply for the next dock; raises ValueError for an empty or
        overlong one. Returns its uid."""
        text = body.strip()
        if not text:
            raise ValueError("write something first")
        if len(text) > MAX_DRAFT_CHARS:
            raise ValueError(f"a message is at most {MAX_DRAFT_CHARS} characters")
        owner = self.owner
        if owner is None:
            raise ValueError("dock this tablet at your unit's kiosk once before writing")
        return self.store.write_draft(resident=owner, contact=contact_id, body=text)

    def _message(self, body: dict[str, Any]) -> Message | None:
        try:
            attachments = tuple(Attachment(str(a["kind"]), str(a["sha256"]),
                                           self._here(str(a["sha256"])),
                                           _captions(a, str(body.get("uid"))))
                                for a in body.get("attachments") or ())
            return Message(str(body["uid"]), body.get("direction") == "to_resident",
                           int(body["contact_id"]), str(body.get("contact_name") or ""),
                           str(body.get("body") or ""), int(body.get("sent_at") or 0),
                           attachments, legal=body.get("legal") is True,
                           withheld=withheld_parts(body.get("withheld"),
                                                   [a.kind for a in attachments]))
        except (KeyError, TypeError, ValueError):
            return None  # a record this version cannot show; the store keeps it

    # -- essential requests and the terms -------------------------------------------

    def requests(self) -> list[Request]:
        """The resident's essential requests, newest first: those written
        here, matched with the notices the server sent back (by uid), and
        those filed at a kiosk, known by their notices."""
        notices: dict[str, dict[str, Any]] = {}
        for item in self.store.items("notice"):
            body = item["body"]
            if isinstance(body, dict) and body.get("notice") == "request":
                key = str(body.get("uid") or f"request:{body.get('request_id')}")
                notices[key] = body
        owner = self.owner
        out: list[Request] = []
        for draft in self.store.request_drafts():
            if draft.resident != owner:
                continue  # the tablet's previous owner's
            notice = notices.pop(draft.uid, None)
            hide = draft.type == "prea" and draft.handed_at is not None
            status = "waiting" if draft.handed_at is None else "handed"
            out.append(_request(draft.uid, draft.type, status, draft.created_at,
                                "" if hide else draft.body, notice))
        for key, notice in notices.items():
            out.append(_request(key, str(notice.get("type") or ""), "filed", 0, "", notice))
        return sorted(out, key=lambda r: (r.status == "waiting", r.written_at), reverse=True)

    def write_request(self, type_: str, body: str) -> str:
        """Save an essential request for the next dock, signed by the tablet;
        raises ValueError for an unknown type, an empty or overlong text, or
        a tablet that never docked. Returns its uid."""
        if type_ not in REQUEST_TYPES:
            raise ValueError(f"a request is one of {', '.join(REQUEST_TYPES)}")
        text = body.strip()
        if not text:
            raise ValueError("write something first")
        if len(text) > MAX_DRAFT_CHARS:
            raise ValueError(f"a request is at most {MAX_DRAFT_CHARS} characters")
        owner = self.owner
        if owner is None:
            raise ValueError("dock this tablet at your unit's kiosk once before writing")
        return self.store.write_request(resident=owner, type_=type_, body=text)

    def terms(self) -> str | None:
        """The terms the resident last accepted at a kiosk (the exact text),
        or None before any came down."""
        accepted = [item["body"] for item in self.store.items("terms")
                    if isinstance(item["body"], dict) and isinstance(item["body"].get("text"),
                                                                      str)]
        if not accepted:
            return None
        newest = max(accepted, key=lambda b: int(b.get("accepted_at") or 0))
        return str(newest["text"])

    # -- media ----------------------------------------------------------------------

    def tracks(self) -> list[Track]:
        """Everything bought and not refunded, by artist and title."""
        out = []
        for item in self.store.items("entitlement"):
            b = item["body"]
            if b.get("state") == "refunded" or b.get("kind") == "album" or not b.get("sha256"):
                continue
            out.append(Track(str(b.get("item_id")), str(b.get("title") or ""),
                             str(b.get("artist") or ""), str(b.get("kind") or "song"),
                             b.get("album"), b.get("album_id"), int(b.get("duration_s") or 0),
                             str(b["sha256"]), self._here(str(b["sha256"]))))
        return sorted(out, key=lambda t: (t.artist.lower(), t.title.lower()))

    def albums(self) -> list[Album]:
        groups: dict[str, list[Track]] = defaultdict(list)
        for track in self.tracks():
            if track.album_id:
                groups[track.album_id].append(track)
        return sorted((Album(album_id, tracks[0].album or album_id, tracks[0].artist,
                             tuple(sorted(tracks, key=lambda t: t.item_id)))
                       for album_id, tracks in groups.items()), key=lambda a: a.title.lower())

    # -- files --------------------------------------------------------------------

    def photo(self, sha: str) -> bytes:
        """A photo's bytes, opened from the sealed store. Raises KeyError when
        it is not here, IntegrityError when it was altered."""
        return self.store.read_blob(_sha(sha))

    def media(self, sha: str) -> SealedMedia:
        """A song's, video's or videogram's bytes, for the player to stream;
        its name is the hash."""
        return SealedMedia(self.store, _sha(sha), sha)

    def _here(self, sha: str) -> bool:
        try:
            return self.store.has_blob(_sha(sha))
        except KeyError:
            return False


@dataclass(frozen=True)
class SealedMedia:
    """A media file in the sealed store, as the player reads it
    (tablet.player.MediaSource): decrypted as it is read, never on disk."""

    store: TabletStore
    sha: bytes
    name: str

    def open(self) -> BinaryIO:
        reader: Any = self.store.open_blob(self.sha)
        return reader  # an io.RawIOBase: read, readinto, seek, close


def _captions(attachment: dict[str, Any], uid: str) -> Captions | None:
    """A videogram's captions, when it carries them; a track that cannot be
    read is left out (and logged): the videogram plays without it."""
    text = attachment.get("captions")
    if text is None or attachment.get("kind") != "videogram":
        return None
    try:
        return parse(text)
    except CaptionsError as e:
        log.warning("message %s: a videogram's captions are ignored: %s", uid[:64], e.reason)
        return None


def _request(key: str, type_: str, status: str, written_at: int, text: str,
             notice: dict[str, Any] | None) -> Request:
    if notice is None:
        return Request(key, type_, status, written_at, text)
    due = notice.get("due_at")
    return Request(key, type_ or str(notice.get("type") or ""),
                   str(notice.get("status") or "filed"), written_at, text,
                   str(notice.get("receipt") or ""), due if isinstance(due, int) else None,
                   str(notice.get("text") or ""))


def _sha(text: str) -> bytes:
    try:
        sha = bytes.fromhex(text)
    except ValueError:
        sha = b""
    if len(sha) != 32:
        raise KeyError(f"{text!r} is not a file's hash")
    return sha
