"""A kiosk and a tablet that sync over the simulated USB cable: a real pty pair
with its relay, pyserial on both ends, mutual TLS, and the session's two
sides, each with its real store. Content goes into the kiosk's cache in the
shape the central server's feeds have."""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from device_security.at_rest import Sealer
from device_security.channel import SecureChannel, make_context
from device_security.pki import Role
from device_security.secure_element import derive_key
from hw.serial_link import open_link
from kiosk.cache import KioskCache
from simulators.link import Fault, SimLink
from sync.session import DockedResident, Progress, SessionSummary, run_kiosk, serve_tablet
from sync.stream import FrameStream
from tablet.store import TabletStore
from tests.device_security.conftest import Facility, Issued

SERIAL = "JP5S-000101"
RESIDENT = 7
AGENCY_ID = "874512"


@dataclass
class DockResult:
    kiosk: SessionSummary | BaseException | None = None
    tablet: SessionSummary | BaseException | None = None
    link_bytes: dict[str, int] = field(default_factory=dict)
    progress: list[Progress] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return isinstance(self.kiosk, SessionSummary) and isinstance(self.tablet, SessionSummary)


class SyncRig:
    """One kiosk's cache and one tablet's store, docked as often as a test likes."""

    def __init__(self, root: Path, facility: Facility, *, serial: str = SERIAL,
                 tablet: Issued | None = None, cache: KioskCache | None = None,
                 resident_id: int = RESIDENT, agency_id: str = AGENCY_ID) -> None:
        self.root = root
        self.facility = facility
        self.kiosk_id = facility.issue(Role.KIOSK, "K-A1")
        self.tablet_id = tablet or facility.issue(Role.TABLET, "tablet", serial=serial)
        self.serial = serial
        self.sealer = Sealer(derive_key(self.kiosk_id.key, b"kiosk cache"))
        if cache is not None:
            self.sealer = cache.sealer
        self.cache = cache or self.open_cache(root / "kiosk")
        self.store = self.open_store()
        self.counter = 0
        self.resident_id, self.agency_id = resident_id, agency_id
        self._seq = 0
        self._rand = random.Random(5)
        self.cache.set_tablets([{"serial": serial, "resident_id": resident_id,
                                 "resident_agency_id": agency_id, "status": "active"}])

    def open_cache(self, directory: Path | None = None) -> KioskCache:
        """The kiosk's cache, opened (again) as the kiosk opens it: sealed under
        the key it derives from its own device key."""
        return KioskCache(directory or self.cache.directory, self.sealer)

    def open_store(self) -> TabletStore:
        """The tablet's store, opened (again) as the tablet opens it."""
        return TabletStore(self.root / f"tablet-{self.serial}", serial=self.serial,
                           sign=self.tablet_id.key.sign,
                           sealer=Sealer(derive_key(self.tablet_id.key, b"content")))

    # -- content, as the central server's feed carries it ------------------------

    def _append(self, kind: str, ref: str, body: dict[str, Any]) -> None:
        self._seq += 1
        self.cache.apply_feed(self.resident_id, self._seq, [
            {"seq": self._seq, "kind": kind, "ref": ref, "body": body, "created_at": 0}])

    def blob(self, size: int) -> str:
        data = self._rand.randbytes(size)
        sha = hashlib.sha256(data).hexdigest()
        self.cache.put_blob(sha, data)
        return sha

    def message(self, text: str, *, photo_size: int | None = None) -> str:
        uid = f"m-{self._seq + 1:06d}"
        attachments = []
        if photo_size is not None:
            attachments.append({"kind": "photo", "sha256": self.blob(photo_size),
                                "size": photo_size, "media_type": "image/jpeg"})
        self._append("message", uid, {"uid": uid, "body": text, "contact_name": "Rosa",
                                      "direction": "to_resident", "attachments": attachments})
        return uid

    def song(self, title: str, size: int, state: str = "paid") -> str:
        sha = self.blob(size)
        self.entitlement(len(title) + self._seq, title, sha, size, state)
        return sha

    def entitlement(self, ent_id: int, title: str, sha: str, size: int, state: str) -> None:
        self._append("entitlement", str(ent_id), {"entitlement_id": ent_id, "title": title,
                                                  "sha256": sha, "size": size, "state": state})

    # -- a dock ------------------------------------------------------------------------

    def dock(self, fault: Fault | None = None, *, timeout: float = 60.0,
             kiosk_side: Callable[..., SessionSummary] = run_kiosk) -> DockResult:
        """Plug in, run one session on each side, unplug. Errors are returned."""
        link = self.plug(fault)
        result = DockResult()
        ready = threading.Event()
        thread = threading.Thread(target=self.tablet_side, args=(link, result, ready),
                                  daemon=True)
        thread.start()
        ready.wait(10)
        self.kiosk_side(link, result, kiosk_side)
        thread.join(timeout)
        self.unplug(link, result)
        assert not thread.is_alive(), "the tablet side hung"
        return result

    def plug(self, fault: Fault | None = None) -> SimLink:
        link = SimLink("tablet")
        link.open()
        if fault is not None:
            link.set_fault(fault)
        self.counter += 1
        return link

    @staticmethod
    def unplug(link: SimLink, result: DockResult) -> None:
        link.cut()
        result.link_bytes = dict(link.bytes)

    def tablet_side(self, link: SimLink, result: DockResult,
                    ready: threading.Event | None = None) -> None:
        """The tablet's end. Its tty is open (pyserial flushes what came before
        it opened, as a tablet's gadget is open before any kiosk speaks) when
        ``ready`` is set."""
        try:
            with open_link(f"serial://{link.gadget_tty}") as stream:
                if ready is not None:
                    ready.set()
                context = make_context("accept", self.tablet_id.credentials, self.facility.ca)
                channel = SecureChannel.accept(stream, context, timeout=10)
                result.tablet = serve_tablet(FrameStream(channel), self.store,
                                             counter=self.counter)
                channel.close()
        except BaseException as e:  # noqa: BLE001 - the test inspects it
            result.tablet = e

    def kiosk_side(self, link: SimLink, result: DockResult,
                   side: Callable[..., SessionSummary] = run_kiosk) -> None:
        try:
            with open_link(f"serial://{link.kiosk_tty}") as stream:
                context = make_context("connect", self.kiosk_id.credentials, self.facility.ca)
                channel = SecureChannel.connect(stream, context, timeout=10)
                docked = DockedResident(self.serial, self.resident_id, self.agency_id,
                                        self.tablet_id.key.public_key())
                result.kiosk = side(FrameStream(channel), self.cache, docked, kiosk="K-A1",
                                    on_progress=result.progress.append)
                channel.close()
        except BaseException as e:  # noqa: BLE001 - as above
            result.kiosk = e


# A TEST-ONLY key for caches that no kiosk key goes with.
TEST_CACHE_SEALER = Sealer(hashlib.sha256(b"sallyport TEST-ONLY kiosk cache key").digest())


def open_cache(directory: Path) -> KioskCache:
    """A kiosk cache sealed under TEST_CACHE_SEALER."""
    return KioskCache(directory, TEST_CACHE_SEALER)


def as_if_unanswered(cache: KioskCache, table: str, key: str) -> None:
    """The server took the item but its answer was lost: the kiosk never
    marked it sent, so it goes again."""
    column = "key" if table == "receipts" else "uid"
    with cache.local.transaction() as conn:
        conn.execute(f"UPDATE {table} SET state = 'queued' WHERE {column} = ?",  # noqa: S608
                     [key])
