"""A resident's messages at the kiosk, read from the kiosk's cache (so they
show while the central server is away): conversations with each family
member (with what staff withheld of a message, and why), the letters
written here and their state, the notices about held and rejected messages,
refunds and tickets, and what is unread. No Kivy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from kiosk.cache import QUEUED, REFUSED, WAITING_LOGIN, KioskCache
from kiosk.i18n import N_
from sync.withheld import WithheldPart, withheld_parts

MAX_LETTER_CHARS = 4000
PAGE = 5000  # records read from the cache at a time


@dataclass(frozen=True)
class Attachment:
    kind: str  # photo, videogram
    sha256: str
    here: bool  # its file is in the kiosk's cache


@dataclass(frozen=True)
class Message:
    uid: str
    incoming: bool  # from the family member
    contact_id: int
    contact_name: str
    body: str
    at: int  # when it was sent (or written here, for a letter not yet sent)
    seq: int = 0  # its place in the resident's feed; 0 for a letter not yet in it
    attachments: tuple[Attachment, ...] = ()
    state: str = "sent"  # sent; or a letter's: queued, waiting_login, refused
    note: str = ""  # why a letter was refused
    legal: bool = False  # privileged mail with a verified attorney (sealed, unscreened)
    withheld: tuple[WithheldPart, ...] = ()  # what staff withheld of it, and why


@dataclass(frozen=True)
class Notice:
    ref: str
    kind: str  # held, rejected, purchase_refunded, ticket, ...
    text: str
    at: int
    seq: int


@dataclass(frozen=True)
class Conversation:
    contact_id: int
    contact_name: str
    messages: tuple[Message, ...] = field(default_factory=tuple)
    unread: int = 0

    @property
    def last(self) -> Message:
        return self.messages[-1]

    @property
    def legal(self) -> bool:
        """Whether this is legal mail: a verified attorney's messages are."""
        return any(m.legal for m in self.messages)


class Inbox:
    """One kiosk's view of its residents' messages. ``cache`` is the kiosk's
    store-and-forward cache; what a resident has read is kept there too."""

    def __init__(self, cache: KioskCache) -> None:
        self.cache = cache

    def _records(self, resident_id: int) -> list[Any]:
        out, after = [], 0
        while True:
            page = self.cache.records_after(resident_id, after, PAGE)
            out += page
            if len(page) < PAGE:
                return out
            after = page[-1].seq

    def conversations(self, resident_id: int, names: dict[int, str] | None = None
                      ) -> list[Conversation]:
        """One per family member, the most recent first. ``names`` (from the
        contact list) names those who have not written yet."""
        latest: dict[str, Any] = {}
        for record in self._records(resident_id):
            if record.kind == "message":
                latest[record.ref] = record  # the latest record of each message
        by_contact: dict[int, list[Message]] = defaultdict(list)
        known = dict(names or {})
        for record in latest.values():
            message = self._message(record)
            if message is not None:
                by_contact[message.contact_id].append(message)
                known.setdefault(message.contact_id, message.contact_name)
        in_feed = set(latest)
        for letter in self.cache.letters(resident_id):
            if letter["uid"] in in_feed:
                continue  # shown from the feed
            contact = int(letter["contact_id"])
            by_contact[contact].append(Message(
                letter["uid"], False, contact, known.get(contact, ""), letter["body"],
                int(letter["written_at"]), 0, (), letter["state"], letter["result"]))
        seen = self._seen(resident_id)
        out = []
        for contact, messages in by_contact.items():
            ordered = tuple(sorted(messages, key=lambda m: (m.seq == 0, m.seq, m.at)))
            unread = sum(1 for m in ordered if m.incoming and m.seq > seen.get(contact, 0))
            out.append(Conversation(contact, known.get(contact, ""), ordered, unread))
        for contact, name in known.items():
            if contact not in by_contact:
                out.append(Conversation(contact, name))
        return sorted(out, key=lambda c: (c.messages[-1].at if c.messages else 0), reverse=True)

    def conversation(self, resident_id: int, contact_id: int) -> Conversation | None:
        return next((c for c in self.conversations(resident_id)
                     if c.contact_id == contact_id), None)

    def unread(self, resident_id: int) -> int:
        return sum(c.unread for c in self.conversations(resident_id))

    def mark_read(self, resident_id: int, contact_id: int) -> None:
        """The resident opened the conversation: what is in it now is read."""
        conversation = self.conversation(resident_id, contact_id)
        if conversation is None or not conversation.messages:
            return
        through = max(m.seq for m in conversation.messages)
        self.cache.set_meta(f"seen:{resident_id}:{contact_id}", str(through))

    def notices(self, resident_id: int) -> list[Notice]:
        """Held and rejected messages, refunds and ticket replies, newest first."""
        out = []
        for record in self._records(resident_id):
            if record.kind != "notice" or not isinstance(record.body, dict):
                continue
            body = record.body
            out.append(Notice(record.ref, str(body.get("notice") or "notice"),
                              str(body.get("text") or ""), int(body.get("at") or 0), record.seq))
        for letter in self.cache.letters(resident_id):
            if letter["state"] == REFUSED:
                out.append(Notice(letter["uid"], "letter_refused",
                                  f"A message you wrote here was not sent: {letter['result']}",
                                  int(letter["written_at"]), 0))
        return sorted(out, key=lambda n: (n.seq or 1 << 62, n.at), reverse=True)

    def _seen(self, resident_id: int) -> dict[int, int]:
        prefix = f"seen:{resident_id}:"
        return {int(key[len(prefix):]): int(value) for key, value in self.cache.local.rows(
            "SELECT key, value FROM meta WHERE key LIKE ?", [prefix + "%"])}

    def _message(self, record: Any) -> Message | None:
        body = record.body
        try:
            attachments = tuple(
                Attachment(str(a["kind"]), str(a["sha256"]),
                           self.cache.has_blob(str(a["sha256"])))
                for a in body.get("attachments") or ())
            return Message(str(body["uid"]), body.get("direction") == "to_resident",
                           int(body["contact_id"]), str(body.get("contact_name") or ""),
                           str(body.get("body") or ""), int(body.get("sent_at") or 0),
                           record.seq, attachments, legal=body.get("legal") is True,
                           withheld=withheld_parts(body.get("withheld"),
                                                   [a.kind for a in attachments]))
        except (KeyError, TypeError, ValueError):
            return None  # a record this version cannot show


def letter_state_text(state: str) -> str:
    """A letter's state as the resident reads it (English; the screens translate)."""
    return {QUEUED: N_("Waiting to send: the central server is not answering right now"),
            WAITING_LOGIN: N_("Waiting to send: log in again at this kiosk to send it"),
            REFUSED: N_("Not sent")}.get(state, N_("Sent"))
