"""The tablet's end of the USB link: who it lets in, and what it tells them.

The tablet accepts a TLS connection on its serial gadget. A kiosk (certificate
role ``kiosk``) gets the tablet's hello with its sync counter, which rises by
one for every dock; a staff workstation may list and export the tablet's
content; a peer with no certificate may only present a release token, once.
Anything else is refused. Once the kiosk says the tablet is paired, the sync
session (sync.session) runs in the same channel.

The kiosk's answer (docs/security.md, "The kiosk's answer") names the owner,
whose content alone the store may hold (a new owner's first dock wipes the
old one's), the agency's lock policy and stamp price, and whether the kiosk
is in service. A completed sync is a dock for the lock policy
(tablet/lock.py); any answer from a kiosk tells the lock whether the unit's
kiosk is in service.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from base.files import write_atomic
from device_security import messages, reasons
from device_security.at_rest import SealedFiles
from device_security.channel import ByteStream, Credentials, SecureChannel, make_context
from device_security.errors import (
    CertificateError,
    ChannelError,
    SecurityError,
    StatementRefused,
    TokenError,
)
from device_security.messages import (
    ExportAsk,
    Exported,
    InspectDone,
    InspectHello,
    InventoryAsk,
    Items,
    MessageError,
    Paired,
    Refused,
    ReleaseAsk,
    Released,
    RevocationList,
    TabletHello,
)
from device_security.pki import Role, TrustAnchors, check_certificate
from device_security.policy import decide_access
from device_security.release import verify_release_token
from device_security.revocation import MAX_CRL_BYTES, KeptRevocationList
from device_security.service_statement import ServiceStatement, verify_statement
from sync.session import SessionError, serve_tablet
from sync.stream import FrameStream
from tablet.lock import IN_SERVICE, KioskStatus, LockPolicy, StatusRefused, TabletLock
from tablet.store import TabletStore

log = logging.getLogger(__name__)

SESSION_TIMEOUT = 30.0
MAX_ANSWER = 512


@dataclass(frozen=True)
class KioskAnswer:
    """The kiosk's verdict on this tablet and what came with it: the kiosk's
    unit and service state, believed only once :meth:`statement` verifies."""

    paired: bool
    reason: str | None = None
    owner: str | None = None
    lock_after_days: int | None = None
    stamps_per_message: int | None = None
    out_of_service_since: datetime.datetime | None = None
    unit: str | None = None
    signature: bytes | None = None

    @property
    def kiosk_status(self) -> KioskStatus:
        return KioskStatus(self.out_of_service_since)

    def statement(self, serial: str, counter: int) -> ServiceStatement | None:
        """The service statement the kiosk signed, if it said it was this tablet's
        at this dock (None when it named no unit)."""
        if self.unit is None:
            return None
        since = None if self.out_of_service_since is None else \
            int(self.out_of_service_since.timestamp())
        return ServiceStatement(self.unit, serial, counter, since)

    @classmethod
    def of(cls, message: Paired | Refused) -> KioskAnswer:
        """The answer a checked message gives (device_security.messages bounds every field)."""
        since = None if message.out_of_service_since is None else \
            datetime.datetime.fromtimestamp(message.out_of_service_since, datetime.UTC)
        if isinstance(message, Refused):
            return cls(False, reason=message.reason, out_of_service_since=since,
                       unit=message.unit, signature=message.signature)
        return cls(True, owner=message.owner, lock_after_days=message.lock_after_days,
                   stamps_per_message=message.stamps_per_message, out_of_service_since=since,
                   unit=message.unit, signature=message.signature)


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass
class TabletState:
    """What the tablet remembers across docks (written atomically)."""

    counter: int = 0
    released: bool = False
    used_tokens: list[str] = field(default_factory=list)
    unit: str | None = None  # the owner's unit, as the last kiosk that paired it said

    @classmethod
    def load(cls, path: Path) -> TabletState:
        if not path.exists():
            return cls()
        data = json.loads(path.read_text())
        unit = data.get("unit")
        return cls(int(data["counter"]), bool(data["released"]), list(data["used_tokens"]),
                   unit if isinstance(unit, str) else None)

    def save(self, path: Path) -> None:
        write_atomic(path, json.dumps(self.__dict__).encode())


class TabletPeer:
    """Serves connections on the tablet's link, one at a time."""

    def __init__(self, *, serial: str, credentials: Credentials, ca: x509.Certificate,
                 state_path: Path, store: SealedFiles,
                 agency_key: Ed25519PublicKey | None = None,
                 content: TabletStore | None = None,
                 lock: TabletLock | None = None,
                 revocations: KeptRevocationList | None = None,
                 clock: Callable[[], datetime.datetime] = utcnow) -> None:
        self.serial = serial
        self._credentials = credentials
        self._trust = TrustAnchors(ca)
        self._revocations = revocations
        self._state_path = state_path
        self._store = store
        self._agency_key = agency_key
        self._content = content
        self._lock = lock
        self._clock = clock

    def serve(self, stream: ByteStream, *, handshake_timeout: float = 10.0) -> str:
        """Serve one connection; returns what happened (for the tablet's log).

        Errors of the stream (the cable pulled) pass through."""
        state = TabletState.load(self._state_path)
        if state.released and self._lock is not None:
            self._lock.released()  # keep the lock in step (a release interrupted, say)
        context = make_context("accept", self._credentials, self._trust.ca,
                               peer_certificate="optional")
        try:
            channel = SecureChannel.accept(stream, context, timeout=handshake_timeout)
        except (ChannelError, TimeoutError) as e:
            return f"refused a connection: {e}"
        try:
            certificate = channel.peer_certificate
            peer = None
            if certificate is not None:  # checked against the newest revocation list held
                peer = check_certificate(certificate, self._trusted(), now=self._clock(),
                                         expected_roles=[Role.KIOSK, Role.STAFF_WORKSTATION])
            access = decide_access(peer, released=state.released)
            if access.kind == "sync":
                return self._greet_kiosk(channel, state)
            if access.kind == "inspect":
                return self._inspect(channel)
            if access.kind == "release":
                return self._release(channel, state)
            messages.send(channel, Refused.plain(access.reason or reasons.WRONG_ROLE))
            return f"refused a {peer.role if peer else 'peer'}: {access.reason}"
        except CertificateError as e:
            return f"refused a peer: {e}"
        except (ChannelError, TimeoutError) as e:
            return f"session ended: {e}"
        finally:
            channel.close()

    def _greet_kiosk(self, channel: SecureChannel, state: TabletState) -> str:
        state.counter += 1
        state.save(self._state_path)  # durable before the kiosk learns it
        messages.send(channel, TabletHello(self.serial, state.counter))
        try:
            first = messages.receive(channel, SESSION_TIMEOUT, RevocationList, Paired, Refused,
                                     max_size=MAX_CRL_BYTES + 64)
            if isinstance(first, RevocationList):
                revoked = self._kiosk_list(first, channel)
                if revoked is not None:
                    return revoked
                first = messages.receive(channel, SESSION_TIMEOUT, Paired, Refused,
                                         max_size=MAX_ANSWER)
            answer = KioskAnswer.of(first)
        except MessageError as e:
            return f"the kiosk's answer was malformed ({e}); nothing recorded"
        if answer.paired and answer.unit is not None and answer.unit != state.unit:
            state.unit = answer.unit  # the owner's unit: whose kiosk may pause the lock
            state.save(self._state_path)
        certificate = channel.peer_certificate
        assert certificate is not None  # a kiosk proved its certificate to get here
        status = self._service_status(answer, certificate.public_key(), state)
        if not answer.paired:
            if status is not None:
                self._kiosk_said(status)
            return f"the kiosk refused this tablet: {answer.reason}"
        if self._content is None:
            return "paired with a kiosk"
        owner = answer.owner
        assert owner is not None  # checked for a paired answer
        wiped = self._content.set_owner(owner)
        if answer.stamps_per_message is not None:
            self._content.remember("stamps_per_message", answer.stamps_per_message)
        try:
            got = serve_tablet(FrameStream(channel), self._content, counter=state.counter)
        except SessionError as e:
            return f"paired with a kiosk; the sync stopped: {e}"
        except Exception as e:  # noqa: BLE001 - the link went away mid-sync; say so in the log
            return f"paired with a kiosk; the link ended during the sync ({type(e).__name__})"
        self._docked(answer, status)
        return (f"paired with a kiosk{'; a new owner: the old content was wiped' if wiped else ''}"
                f"; synced {got.records} records, {got.blobs} files ({got.blob_bytes} bytes), "
                f"{got.outbox} drafts up")

    def _trusted(self) -> TrustAnchors:
        """The facility CA and the newest revocation list this tablet has seen."""
        return self._revocations.trust() if self._revocations is not None else self._trust

    def _kiosk_list(self, message: RevocationList, channel: SecureChannel) -> str | None:
        """Keep the kiosk's revocation list if it is newer than this tablet's,
        then check the kiosk against the newest: returns why this connection
        ends (a kiosk the list revokes), or None to go on. A list that is not
        the CA's, or older than the one held, is logged and changes nothing."""
        if self._revocations is None:
            return None
        try:
            if self._revocations.offer(message.crl):
                log.info("tablet %s: a newer revocation list from the kiosk (%s)", self.serial,
                         self._revocations.number())
        except CertificateError as e:
            log.warning("tablet %s: the kiosk's revocation list is not kept: %s", self.serial, e)
        certificate = channel.peer_certificate
        assert certificate is not None  # a kiosk proved its certificate to get here
        try:
            check_certificate(certificate, self._trusted(), now=self._clock(),
                              expected_roles=[Role.KIOSK])
        except CertificateError as e:
            return f"refused a kiosk: {e}"
        return None

    def _service_status(self, answer: KioskAnswer, kiosk_key: object,
                        state: TabletState) -> KioskStatus | None:
        """What the kiosk says of its service, if the tablet believes it: a
        statement for this tablet at this dock, naming this tablet's own unit,
        signed by the kiosk it has just authenticated. None otherwise (logged):
        the lock then hears nothing from this kiosk."""
        statement = answer.statement(self.serial, state.counter)
        if statement is None:
            return None
        if state.unit is None or statement.unit != state.unit:
            log.info("tablet %s: a service report from the kiosk of unit %s, not of this "
                     "tablet's unit (%s); ignored", self.serial, statement.unit, state.unit)
            return None
        try:
            verify_statement(statement, answer.signature, kiosk_key)
        except StatementRefused as e:
            log.warning("tablet %s: the kiosk's service report is ignored: %s", self.serial, e)
            return None
        return answer.kiosk_status

    def _docked(self, answer: KioskAnswer, status: KioskStatus | None) -> None:
        """A completed sync: the lock counts from now, under the agency's policy
        (paused from now if the unit's kiosk said, signed, it is out of service)."""
        if self._lock is None:
            return
        policy = LockPolicy(answer.lock_after_days) if answer.lock_after_days \
            else self._lock.policy()
        try:
            self._lock.docked(policy, status or IN_SERVICE)
        except StatusRefused as e:
            log.warning("tablet %s: the kiosk's service report was not believable (%s); "
                        "the dock counts, the report does not", self.serial, e)
            self._lock.docked(policy, IN_SERVICE)

    def _kiosk_said(self, status: KioskStatus) -> None:
        """The unit's kiosk did not sync this tablet but said, signed, whether it
        is in service."""
        if self._lock is None:
            return
        try:
            self._lock.kiosk_reported(status)
        except StatusRefused as e:
            log.warning("tablet %s: the kiosk's service report was not believable (%s)",
                        self.serial, e)

    def _inspect(self, channel: SecureChannel) -> str:
        messages.send(channel, InspectHello(self.serial))
        exported = 0
        while True:
            request = messages.receive(channel, SESSION_TIMEOUT, InventoryAsk, ExportAsk,
                                       InspectDone, max_size=4096)
            if isinstance(request, InventoryAsk):
                messages.send(channel, Items(tuple(sorted(self._store.labels()))))
            elif isinstance(request, ExportAsk):
                try:
                    data: bytes | None = self._store.read(request.label)
                except KeyError:
                    data = None
                messages.send(channel, Exported(request.label, data))
                exported += data is not None
            else:
                return f"inspected by a staff workstation ({exported} items exported)"

    def _release(self, channel: SecureChannel, state: TabletState) -> str:
        try:
            request = messages.receive(channel, SESSION_TIMEOUT, ReleaseAsk, max_size=2048)
        except MessageError as e:
            messages.send(channel, Refused.plain(reasons.TOKEN_MALFORMED))
            return f"refused a release request: {e}"
        if self._agency_key is None:
            messages.send(channel, Refused.plain(reasons.TOKEN_MALFORMED))
            return "refused a release request: this tablet holds no agency key"
        try:
            parsed = verify_release_token(request.token, self._agency_key, serial=self.serial,
                                          now=self._clock(), used=set(state.used_tokens))
        except TokenError as e:
            messages.send(channel, Refused.plain(e.reason))
            return f"refused a release token: {e}"
        state.used_tokens.append(parsed.token_id)
        state.released = True
        state.save(self._state_path)
        if self._lock is not None:
            self._lock.released()
        messages.send(channel, Released(self.serial))
        return f"released for good by token {parsed.token_id}"


def load_agency_key(path: Path) -> Ed25519PublicKey | None:
    """The agency's release-token key installed at provisioning, if any."""
    if not path.exists():
        return None
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise SecurityError(f"{path} is not an Ed25519 public key")
    return key


class _Prefixed:
    """A stream that first returns bytes already read from it."""

    def __init__(self, stream: ByteStream, first: bytes) -> None:
        self._stream = stream
        self._first = first

    def read(self, max_bytes: int, timeout: float) -> bytes:
        if self._first:
            data, self._first = self._first[:max_bytes], self._first[max_bytes:]
            return data
        return self._stream.read(max_bytes, timeout)

    def write(self, data: bytes, timeout: float) -> None:
        self._stream.write(data, timeout)

    def close(self) -> None:
        self._stream.close()


def serve_link(peer: TabletPeer, stream: ByteStream, stop: Callable[[], bool],
               on_session: Callable[[str], None] = log.info) -> None:
    """Serve connections on one link until ``stop()`` or the link fails.

    Waits quietly for a peer's first bytes before starting a handshake. The
    link's own errors (the cable pulled) end the loop."""
    while not stop():
        try:
            first = stream.read(65536, timeout=0.5)
        except TimeoutError:
            continue
        except Exception as e:  # noqa: BLE001 - the link is gone; nothing more to serve
            log.info("tablet %s: link ended: %s", peer.serial, e)
            return
        try:
            on_session(peer.serve(_Prefixed(stream, first)))
        except Exception as e:  # noqa: BLE001 - as above, mid-session
            log.info("tablet %s: link ended during a session: %s", peer.serial, e)
            return
