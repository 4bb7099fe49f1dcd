"""The kiosk's half of store and forward: rounds between its cache and the
central server (up: alerts, counters, drafts, letters, requests, receipts; then the
facility's revocation list, the agency's policy, the unit's tablets, the
feeds and their blobs), each item
under an id made where it was written so a retry changes nothing. The steps
and what a refusal means are in docs/kiosk.md ("Rounds")."""

from __future__ import annotations

import json
import logging
import threading
import time
from base64 import b64decode
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from device_security.alerts import AlertQueue, QueuedAlert
from device_security.errors import CertificateError, RegistryError
from device_security.registry import Registry, RegistryEntry, TabletStatus
from device_security.revocation import KeptRevocationList
from kiosk.cache import (
    QUEUED,
    REFUSED,
    SENT,
    CacheError,
    KioskCache,
)
from kiosk.central_client import (
    BlobMismatch,
    CentralClient,
    CentralClientError,
    CentralRefused,
    CentralUnavailable,
)
from kiosk.events import CentralChanged, Emit, RoundDone
from kiosk.firmware import FirmwareMirror
from kiosk.letters import Letters
from kiosk.requests import Requests

log = logging.getLogger(__name__)

FEED_PAGE = 500
# The server does not know this kiosk (yet): nothing wrong with the alert or
# counter, which wait for the next round rather than being given up.
UNAUTHENTICATED = 401


UP = ("alerts", "counters", "outbox", "letters", "requests", "receipts")

@dataclass
class Round:
    """What one round moved, for the log and for ``sallyport sync status``."""

    sent_alerts: int = 0
    refused_alerts: int = 0
    sent_counters: int = 0
    refused_counters: int = 0
    sent_drafts: int = 0
    refused_drafts: int = 0
    sent_letters: int = 0
    sent_requests: int = 0
    sent_receipts: int = 0
    records: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    crl_number: int | None = None  # the revocation list held after this round
    crl_problem: str = ""  # why the server's list was not kept (it is logged too)
    firmware_images: int = 0
    error: str = ""
    steps: list[str] = field(default_factory=list)

    @property
    def reached_central(self) -> bool:
        return not self.error


class CentralSync:
    """Moves data between one kiosk's cache and the central server."""

    def __init__(self, client: CentralClient, cache: KioskCache, *,
                 registry: Registry | None = None, alerts: AlertQueue | None = None,
                 letters: Letters | None = None, requests: Requests | None = None,
                 max_blobs_per_round: int = 50,
                 revocations: KeptRevocationList | None = None,
                 firmware: FirmwareMirror | None = None) -> None:
        self.client = client
        self.firmware = firmware
        self.cache = cache
        self.letters = letters
        self.requests = requests
        self.revocations = revocations
        self.registry = registry
        self.alerts = alerts
        self.max_blobs = max_blobs_per_round
        # One round at a time: a round asked for now (``Rounds.run_now``) waits
        # for the rounds thread's, so two never download one file into the
        # same partial file.
        self._one_round = threading.Lock()

    def run_once(self) -> Round:
        """One round; never raises for the server being away (see Round.error)."""
        with self._one_round:
            return self._run_once()

    def _run_once(self) -> Round:
        done = Round()
        steps: list[tuple[str, Callable[[Round], None]]] = [
            ("alerts", self._push_alerts), ("counters", self._push_counters),
            ("outbox", self._push_outbox), ("letters", self._push_letters),
            ("requests", self._push_requests),
            ("receipts", self._push_receipts),
            ("crl", self._pull_revocation_list), ("policy", self._pull_policy),
            ("tablets", self._pull_tablets), ("feeds", self._pull_feeds),
            ("blobs", self._pull_blobs), ("firmware", self._sync_firmware)]
        for name, step in steps:
            try:
                if name in UP:  # one sender at a time for the queues (letters go at once too)
                    with self.cache.sending:
                        step(done)
                else:
                    step(done)
                done.steps.append(name)
            except CentralUnavailable as e:
                done.error = f"{name}: the central server is unreachable ({e})"
                break
            except (CentralClientError, CacheError, RegistryError) as e:
                done.error = f"{name}: {e}"
                log.warning("sync with the central server: %s", done.error)
                break
        now = str(int(time.time()))
        if done.error:
            self.cache.set_meta("central_last_error", f"{now} {done.error}")
        else:
            self.cache.set_meta("central_last_ok", now)
        return done

    # -- up ------------------------------------------------------------------------------

    def _push_alerts(self, done: Round) -> None:
        if self.alerts is None:
            return
        for queued in self.alerts.for_central():
            try:
                self.client.alert(alert_report(queued))
            except CentralRefused as e:
                if not e.final:
                    continue  # it stays for the next round
                if e.status == UNAUTHENTICATED:
                    raise
                log.error("alert %s (%s, tablet %s) refused by the central server: %s",
                          queued.uid, queued.alert.reason, queued.alert.tablet_serial, e)
                self.alerts.mark_refused(queued.ident, f"{e.code}: {e.message}")
                done.refused_alerts += 1
                continue
            self.alerts.mark_delivered([queued.ident])
            done.sent_alerts += 1

    def _push_counters(self, done: Round) -> None:
        for item in self.cache.pending_counters():
            counter = item.payload["counter"]
            try:
                answer = self.client.tablet_counter(item.serial, counter, item.key)
            except CentralRefused as e:
                if not e.final:
                    self.cache.settle("counters", item.key, QUEUED, str(e))
                    continue
                if e.status == UNAUTHENTICATED:
                    raise
                # counter_not_increasing: another kiosk reported this counter or a
                # higher one first (a copy of the tablet, or this report is late).
                log.warning("sync counter %d of tablet %s refused: %s", counter, item.serial, e)
                self.cache.settle("counters", item.key, REFUSED, f"{e.code}: {e.message}")
                done.refused_counters += 1
                continue
            self.cache.settle("counters", item.key, SENT, json.dumps(answer)[:500])
            done.sent_counters += 1

    def _push_outbox(self, done: Round) -> None:
        for item in self.cache.pending_outbox():
            body = item.payload["body"]
            tablet = self.cache.tablet(item.serial)
            try:
                if item.kind == "request":  # an essential request: the server gives its receipt
                    answer = self.client.send_tablet_request({
                        "serial": item.serial, "uid": item.key,
                        "resident_agency_id": body.get("resident"), "type": body.get("type"),
                        "body": body.get("body"), "written_at": body.get("written_at"),
                        "signature": item.payload["signature"]})
                else:
                    answer = self.client.send_draft({
                        "serial": item.serial, "uid": item.key,
                        "resident_agency_id": body.get("resident"),
                        "contact_id": body.get("contact"), "body": body.get("body"),
                        "signature": item.payload["signature"]})
            except CentralRefused as e:
                if not e.final:
                    self.cache.settle("outbox", item.key, QUEUED, str(e))
                    continue
                log.warning("draft %s from %s refused: %s", item.key, item.serial, e)
                self.cache.settle("outbox", item.key, REFUSED, f"{e.code}: {e.message}")
                done.refused_drafts += 1
                continue
            self.cache.settle("outbox", item.key, SENT, json.dumps(answer)[:500])
            done.sent_drafts += 1
            log.info("draft %s of tablet %s sent (resident %s)", item.key, item.serial,
                     tablet and tablet.get("resident_agency_id"))

    def _push_letters(self, done: Round) -> None:  # a round's step: under cache.sending
        if self.letters is not None:
            done.sent_letters += self.letters.send_pending()

    def _push_requests(self, done: Round) -> None:  # a round's step: under cache.sending
        if self.requests is not None:
            done.sent_requests += self.requests.send_pending()

    def _push_receipts(self, done: Round) -> None:
        for item in self.cache.pending_receipts():
            p = item.payload
            try:
                if item.kind == "blob":
                    self.client.blob_receipt(p["serial"], p["sha256"], p["signature"])
                elif item.kind == "delivery":
                    self.client.delivery_receipt(p["serial"], p["owner"], p["sha256"],
                                                 p["entitlements"], p["signature"])
                else:
                    self.client.records_receipt(p["serial"], b64decode(p["session"]),
                                                p["through"], b64decode(p["batch_digest"]),
                                                b64decode(p["signature"]))
            except CentralRefused as e:
                if not e.final:
                    self.cache.settle("receipts", item.key, QUEUED, str(e))
                    continue
                log.warning("receipt %s refused: %s", item.key, e)
                self.cache.settle("receipts", item.key, REFUSED, f"{e.code}: {e.message}")
                continue
            self.cache.settle("receipts", item.key, SENT)
            done.sent_receipts += 1

    # -- down ----------------------------------------------------------------------------

    def _pull_revocation_list(self, done: Round) -> None:
        """The facility CA's newest revocation list, kept if the CA signed it and
        it is newer than the one held (the pairing gate uses it at once). A list
        that is neither is logged and leaves the one held; the round goes on."""
        if self.revocations is None:
            return
        try:
            self.revocations.offer(self.client.revocation_list())
        except CentralRefused as e:
            if e.status == UNAUTHENTICATED:
                raise
            done.crl_problem = f"the server gave no revocation list: {e}"
            log.error("%s", done.crl_problem)
        except CertificateError as e:
            done.crl_problem = f"the server's revocation list was not kept: {e}"
            log.error("%s", done.crl_problem)
        done.crl_number = self.revocations.number()

    def _pull_policy(self, done: Round) -> None:
        self.cache.set_agency_policy(self.client.policy())

    def _pull_tablets(self, done: Round) -> None:
        tablets = self.client.tablets()
        self.cache.set_tablets(tablets)
        if self.registry is None:
            return
        for t in tablets:
            known = {s.value for s in TabletStatus}
            status = TabletStatus(t["status"]) if t["status"] in known else TabletStatus.RETIRED
            counter = int(t["sync_counter"])
            entry = self.registry.get(t["serial"])
            if entry is None:
                self.registry.add(RegistryEntry(t["serial"], status, t.get("resident_agency_id"),
                                                t.get("resident_agency_id"), counter))
                continue
            if entry.status != status:
                self.registry.set_status(t["serial"], status)
            owner = t.get("resident_agency_id")
            if owner and entry.owner_id != owner:
                self.registry.assign(t["serial"], owner, owner)
            if self.registry.advance_counter(t["serial"], counter):  # only ever up
                log.info("tablet %s: sync counter %d, from the central server (was %d here)",
                         t["serial"], counter, entry.last_counter)

    def _pull_feeds(self, done: Round) -> None:
        heads = self.client.heads()
        self.cache.set_residents(heads)
        cursors = self.cache.cursors()
        for resident, known_head in sorted(heads.items()):
            cursor, head = cursors.get(resident, 0), known_head
            while cursor < head:
                head, records = self.client.feed(resident, cursor, FEED_PAGE)
                if not records:
                    break
                cursor = self.cache.apply_feed(resident, head, records)
                done.records += len(records)

    def _pull_blobs(self, done: Round) -> None:
        for sha, size in self.cache.missing_blobs(self.max_blobs):
            download = self.cache.blob_download(sha, size)
            try:
                self.client.fetch_blob(sha, size, download)
            except (CentralRefused, BlobMismatch) as e:
                # Not (or not yet) this unit's to fetch, or damaged on the way:
                # left missing, tried again next round.
                log.warning("blob %s not fetched: %s", sha[:12], e)
                continue
            finally:
                download.close()
            self.cache.blob_fetched(sha, size)
            done.blobs += 1
            done.blob_bytes += size


    def _sync_firmware(self, done: Round) -> None:
        """The firmware copy, the rollouts and switches, the tablets' reports
        (kiosk/firmware.py); last, so nothing else waits for an image."""
        if self.firmware is None:
            return
        try:
            done.firmware_images = self.firmware.refresh(self.client).images
        except OSError as e:  # the kiosk's disk: the next round tries again
            log.warning("firmware: %s", e)


class Rounds:
    """Rounds on a thread of their own: every ``interval`` seconds, longer (up
    to a minute) while the server is away. The screen hears when the server
    comes or goes (CentralChanged) and what a round moved (RoundDone)."""

    def __init__(self, sync: CentralSync, emit: Emit, *, interval: float = 5.0,
                 retry_mail: Callable[[], int] | None = None) -> None:
        self.sync = sync
        self._emit = emit
        self._retry_mail = retry_mail  # alert mails that failed, tried again each round
        self.interval = interval
        self.first_done = threading.Event()  # set after the first round, reached or not
        self._lock = threading.Lock()
        self._online: bool | None = None

    @property
    def online(self) -> bool | None:
        """Whether the last round reached the server; None before the first."""
        with self._lock:
            return self._online

    def run(self, stop: threading.Event) -> None:
        """Rounds until ``stop`` is set (the body of the rounds thread)."""
        wait = self.interval
        while not stop.is_set():
            try:
                done = self.sync.run_once()
            except Exception:  # a bug or a broken cache: say so, keep the rounds alive
                log.exception("a round with the central server failed")
                done = Round(error="the round failed; see the log")
            self.mail()
            self.first_done.set()
            self._reported(done)
            wait = self.interval if done.reached_central else min(60.0, max(wait * 2,
                                                                             self.interval))
            stop.wait(wait)

    def run_now(self) -> Round:
        """A round now, on the caller's thread (the rounds thread goes on)."""
        done = self.sync.run_once()
        self.mail()
        self._reported(done)
        return done

    def mail(self) -> int:
        """Alert mails that could not go out, tried again (with their backoff)."""
        if self._retry_mail is None:
            return 0
        try:
            return self._retry_mail()
        except Exception:  # the queue on disk failed: say so, the rounds go on
            log.exception("retrying alert mail failed")
            return 0

    def _reported(self, done: Round) -> None:
        online = done.reached_central
        with self._lock:
            changed, self._online = self._online != online, online
        if changed:
            self._emit(CentralChanged(online, done.error))
        moved = (done.sent_alerts, done.sent_drafts, done.refused_drafts, done.sent_receipts,
                 done.records, done.blobs)
        if any(moved) or (changed and not online):
            self._emit(RoundDone(online, done.sent_alerts, done.sent_drafts,
                                 done.refused_drafts, done.sent_receipts, done.records,
                                 done.blobs, done.blob_bytes, done.error))


def alert_report(queued: QueuedAlert) -> dict[str, Any]:
    """An alert as the central server takes it (``POST /v1/kiosk/alerts``), each
    text cut to the server's bounds: a refused device's descriptors say what
    they like, and the alert must still get through."""
    a = queued.alert
    owner = None
    if a.owner_id:
        owner = f"{a.owner_name} ({a.owner_id})" if a.owner_name else a.owner_id
    return {"uid": queued.uid, "reason": _text(a.reason, 64) or "unknown",
            "detail": _text(a.detail, 1000), "tablet_serial": _text(a.tablet_serial, 64),
            "resident_agency_id": _text(a.resident_id, 32),
            "resident_name": _text(a.resident_name, 200),
            "registered_owner": _text(owner, 200),
            "raised_at": max(0, int(a.raised_at.timestamp()))}


def _text(value: str | None, limit: int) -> str | None:
    """``value`` as every database stores it (no NUL, valid UTF-8), at most
    ``limit`` characters; None stays None."""
    if value is None:
        return None
    clean = value.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    return clean[:limit]
