"""Letters: messages residents write at the kiosk. Each is kept in the
kiosk's cache first, sent at once with its writer's session if the central
server answers, else by a later round; one whose writer's session ended
waits for their next login. The uid made here keeps a retry from sending or
charging twice."""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Callable

from kiosk.answers import Answer, LetterState
from kiosk.cache import QUEUED, REFUSED, SENT, WAITING_LOGIN, KioskCache, Pending
from kiosk.central_client import CentralClient, CentralRefused, CentralUnavailable
from kiosk.inbox import MAX_LETTER_CHARS

log = logging.getLogger(__name__)

UNAUTHENTICATED = 401


class Letters:
    """The letters of one kiosk, over ``client`` (the residents' connection)."""

    def __init__(self, client: CentralClient, cache: KioskCache) -> None:
        self.client = client
        self.cache = cache

    def write(self, *, resident_id: int, token: str, contact_id: int, body: str,
              uid: str | None = None) -> Answer[LetterState]:
        """Keep a letter, then send it now if the server answers. The same
        ``uid`` again sends nothing twice."""
        text = body.strip()
        if not text or len(text) > MAX_LETTER_CHARS:
            return Answer.no("bad_length", f"A message is 1 to {MAX_LETTER_CHARS} characters.")
        uid = uid or "k-" + secrets.token_urlsafe(18)
        self.cache.queue_letter(uid, resident_id=resident_id, contact_id=contact_id, body=text,
                                token=token)
        with contextlib.suppress(CentralUnavailable):  # it stays queued for the rounds
            self.send(uid)
        letter = self.cache.letter(resident_id, uid)
        if letter is None:  # the uid is another resident's letter's
            return Answer.no("uid_taken", "Write it again.")
        state = LetterState(uid, str(letter["state"]),
                            str(letter["result"]) if letter["state"] == REFUSED else "")
        if state.state == REFUSED:
            return Answer(False, state, "refused", state.note)
        return Answer.of(state)

    def renew(self, resident_id: int, token: str) -> None:
        """A resident logged in again: their waiting letters go up with the new session."""
        renewed = self.cache.renew_letters(resident_id, token)
        if renewed:
            log.info("%d letters of resident %d go up with their new session", renewed,
                     resident_id)

    def send(self, uid: str) -> None:
        """Send letter ``uid`` now, if it is still waiting (a round may have
        sent it meanwhile; one sender at a time). Raises CentralUnavailable
        (it stays queued)."""
        with self.cache.sending:
            for item in self.cache.pending_letters(uid=uid):
                self._send(item)

    def send_pending(self) -> int:
        """A round's step (the caller holds ``cache.sending``): every waiting
        letter; how many were sent. Raises CentralUnavailable."""
        return sum(self._send(item) == SENT for item in self.cache.pending_letters())

    def _send(self, item: Pending) -> str:
        """Send one letter: the state it is left in (``sent``; ``refused`` for
        good, with the reason kept for the resident; ``waiting_login`` when
        the session has ended; ``queued`` when the server could not say)."""
        p = item.payload
        try:
            sent = self.client.send_message(p["token"], uid=item.key,
                                            contact_id=p["contact_id"], body=p["body"])
        except CentralRefused as e:
            return settle_refused(self.cache, "letters", item.key, e,
                                  self.cache.letter_waits_for_login)
        self.cache.settle("letters", item.key, SENT,
                          f"message {sent.message_id}, {sent.status}, {sent.stamps} stamps")
        return SENT


def settle_refused(cache: KioskCache, queue: str, key: str, refused: CentralRefused,
                   waits_for_login: Callable[[str], None]) -> str:
    """Where an item of ``queue`` (letters, requests) that the server refused
    is left: ``queued`` again when the refusal was not final, ``waiting_login``
    when its writer's session had ended, else ``refused`` for good with the
    reason kept for the resident."""
    what = queue.removesuffix("s")
    if not refused.final:
        cache.settle(queue, key, QUEUED, str(refused))
        return QUEUED
    if refused.status == UNAUTHENTICATED:
        log.info("%s %s waits for its writer's next login", what, key)
        waits_for_login(key)
        return WAITING_LOGIN
    log.warning("%s %s refused: %s", what, key, refused)
    cache.settle(queue, key, REFUSED, refused.message)
    return REFUSED
