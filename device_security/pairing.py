"""The kiosk's side of docking a tablet: from a plugged device to allow or refuse.

The order matters: the USB interfaces are checked before any byte moves;
then the mutual-TLS handshake proves the tablet holds its key; then its
certificate is checked, its sync counter read, the registry and the kiosk
session consulted, and :func:`device_security.policy.decide_pairing` decides.
A refusal closes the channel and raises an alert (once per plug).

The kiosk's answer to a genuine tablet (``paired`` or ``refused``) also
carries :class:`TabletTerms`: for a paired tablet, its owner's agency ID and
unit and the agency's lock policy and stamp price; for any, this kiosk's unit
and whether it is in service, in a statement the kiosk signs with its device
key for this tablet at this dock (docs/security.md, "The kiosk's answer" and
"Out of service").
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization

from device_security import messages, reasons
from device_security.alerts import Alert, Alerter
from device_security.channel import ByteStream, Credentials, SecureChannel, make_context
from device_security.errors import CertificateError, ChannelError, HandshakeFailed, HandshakeTimeout
from device_security.messages import Paired, Refused, RevocationList, TabletHello
from device_security.pki import PeerIdentity, Role, TrustAnchors, check_certificate
from device_security.policy import (
    Decision,
    KioskSession,
    PairingFacts,
    check_interfaces,
    decide_pairing,
)
from device_security.registry import Registry, RegistryEntry
from device_security.revocation import KeptRevocationList, is_stale, staleness
from device_security.service_statement import ServiceStatement, sign_statement
from device_security.text import printable

log = logging.getLogger(__name__)

HELLO_TIMEOUT = 5.0
MAX_HELLO = 512


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class DockedTablet:
    """What the hardware layer tells about a plugged device."""

    usb_serial: str | None
    interface_classes: tuple[int, ...]
    plug_id: str  # stable for one plug: its sysfs path and arrival


@dataclass(frozen=True)
class TabletTerms:
    """What a kiosk tells every genuine tablet besides its verdict: the
    agency's rules for the tablet (delivered when it pairs), and this kiosk's
    unit and whether it is in service (always, so that a tablet's lock timer
    pauses while the kiosk of its unit is out of service). None where the
    kiosk does not know yet."""

    unit: str | None = None  # the unit this kiosk serves (its residents' unit)
    lock_after_days: int | None = None
    stamps_per_message: int | None = None
    out_of_service_since: int | None = None  # seconds since the epoch; None: in service

    def statement(self, serial: str, counter: int) -> ServiceStatement | None:
        """What the kiosk signs for tablet ``serial`` at the dock of its hello's
        ``counter`` (None without a unit to speak for)."""
        if self.unit is None:
            return None
        return ServiceStatement(self.unit, serial, counter, self.out_of_service_since)

    def paired(self, owner: str, signature: bytes | None = None) -> Paired:
        """The kiosk's answer to a tablet that may sync now, for ``owner``."""
        return Paired(owner=owner, unit=self.unit, lock_after_days=self.lock_after_days,
                      stamps_per_message=self.stamps_per_message,
                      out_of_service_since=self.out_of_service_since, signature=signature)

    def refused(self, reason: str, signature: bytes | None = None) -> Refused:
        """The kiosk's answer to a genuine tablet it refuses."""
        return Refused(reason=reason, unit=self.unit,
                       out_of_service_since=self.out_of_service_since, signature=signature)


@dataclass
class PairingResult:
    decision: Decision
    peer: PeerIdentity | None = None
    counter: int | None = None
    channel: SecureChannel | None = None  # open only when allowed
    stream: ByteStream | None = None  # the link under it, for the caller to close
    alerted: bool = False


class PairingGate:
    """Decides, for each docked tablet, whether it may sync here now.

    ``trust`` is the facility CA and a revocation list; with ``revocations``
    (the list the kiosk's rounds keep fresh) each pairing uses the newest list
    held there instead. Either way a kiosk whose list is missing or past its
    next-update time refuses every tablet (``revocation_list_stale``), and a
    genuine tablet is handed the list before the kiosk's answer."""

    def __init__(self, *, credentials: Credentials, trust: TrustAnchors, registry: Registry,
                 alerter: Alerter, kiosk_location: str,
                 clock: Callable[[], datetime.datetime] = utcnow,
                 handshake_timeout: float = 5.0,
                 terms: Callable[[], TabletTerms] = TabletTerms,
                 revocations: KeptRevocationList | None = None,
                 sign: Callable[[bytes], bytes] | None = None) -> None:
        self._credentials = credentials
        self._terms = terms
        self._sign = sign  # the kiosk's device key, for its service statements
        self.trust = trust
        self.revocations = revocations
        self._registry = registry
        self._alerter = alerter
        self._location = kiosk_location
        self._clock = clock
        self.handshake_timeout = handshake_timeout

    def pair(self, tablet: DockedTablet, open_stream: Callable[[], ByteStream],
             session: KioskSession | None) -> PairingResult:
        """Run the checks; on a refusal, alert and close the stream. Errors of the
        stream itself (an unplug) pass through: a tablet that left is not refused.
        When allowed, the caller owns the open channel and its stream."""
        interfaces = check_interfaces(tablet.interface_classes)
        if not interfaces.allowed:
            result = PairingResult(interfaces)
            return self._refused(tablet, result, session, None)
        stream = open_stream()
        try:
            trust = self.revocations.trust() if self.revocations is not None else self.trust
            return self._pair_over(tablet, stream, session, trust)
        except BaseException:
            stream.close()  # the link failed (an unplug): nothing is left open
            raise

    def _pair_over(self, tablet: DockedTablet, stream: ByteStream,
                   session: KioskSession | None, trust: TrustAnchors) -> PairingResult:
        now = self._clock()
        stale = staleness(trust.crl) if is_stale(trust.crl, now) else None
        context = make_context("connect", self._credentials, trust.ca)
        problem: str | None = None
        channel: SecureChannel | None = None
        peer: PeerIdentity | None = None
        counter: int | None = None
        try:
            channel = SecureChannel.connect(stream, context, timeout=self.handshake_timeout)
            certificate = channel.peer_certificate
            if certificate is None:
                raise HandshakeFailed(reasons.HANDSHAKE_FAILED, "no tablet certificate")
            peer = check_certificate(certificate, trust, now=now,
                                     expected_roles=[Role.TABLET])
            hello = messages.receive(channel, HELLO_TIMEOUT, TabletHello, max_size=MAX_HELLO)
            counter = hello.counter
            if hello.serial != peer.serial:
                raise ChannelError("the hello names another serial than the certificate")
        except (HandshakeFailed, CertificateError) as e:
            problem = e.reason
        except (HandshakeTimeout, ChannelError, TimeoutError) as e:
            log.info("handshake with %s failed: %s", printable(tablet.usb_serial), e)
            problem = reasons.HANDSHAKE_FAILED
        serial = peer.serial if peer is not None and peer.serial else tablet.usb_serial
        entry = self._registry.get(serial) if serial else None
        decision = decide_pairing(PairingFacts(
            usb_serial=tablet.usb_serial, interface_classes=tablet.interface_classes,
            peer=None if problem else peer, channel_problem=problem, entry=entry,
            session=session, counter=counter, revocation_list_stale=stale))
        if decision.allowed and peer is not None and peer.serial is not None \
                and counter is not None \
                and not self._registry.advance_counter(peer.serial, counter):
            decision = Decision.refuse(reasons.COUNTER_NOT_INCREASING,
                                       "another dock took this counter first")
        result = PairingResult(decision, peer, counter)
        terms = self._terms()
        statement = terms.statement(peer.serial, counter) if peer is not None \
            and peer.serial and counter is not None else None
        signature = sign_statement(statement, self._sign) \
            if statement is not None and self._sign is not None else None
        crl = RevocationList(trust.crl.public_bytes(serialization.Encoding.DER)) \
            if trust.crl is not None else None
        if decision.allowed and channel is not None and session is not None:
            if crl is not None:
                messages.send(channel, crl)
            messages.send(channel, terms.paired(session.resident_id, signature))
            result.channel = channel
            result.stream = stream
            log.info("paired %s for %s at %s", printable(serial),
                     session and session.resident_id, self._location)
            return result
        if channel is not None:
            try:
                if crl is not None:
                    messages.send(channel, crl)
                messages.send(channel, terms.refused(decision.reason or
                                                     reasons.HANDSHAKE_FAILED, signature))
            except Exception as e:  # noqa: BLE001 - a courtesy; the alert below must go out
                log.debug("could not tell the tablet it was refused: %s", e)
            channel.close()
        stream.close()
        return self._refused(tablet, result, session, entry)

    def _refused(self, tablet: DockedTablet, result: PairingResult,
                 session: KioskSession | None, entry: RegistryEntry | None) -> PairingResult:
        if entry is None and tablet.usb_serial:
            entry = self._registry.get(tablet.usb_serial)
        decision = result.decision
        alert = Alert(
            reason=decision.reason or reasons.HANDSHAKE_FAILED,
            detail=decision.detail,
            resident_id=session.resident_id if session else None,
            resident_name=session.resident_name if session else None,
            kiosk_location=self._location,
            tablet_serial=tablet.usb_serial,
            owner_id=entry.owner_id if entry else None,
            owner_name=entry.owner_name if entry else None,
            raised_at=self._clock(),
        )
        result.alerted = self._alerter.raise_alert(alert, plug_id=tablet.plug_id)
        return result
