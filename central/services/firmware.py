"""Firmware on the central server (docs/firmware.md): an agency's signed
repository as its administrators publish it, the images' bytes, staged
rollouts per facility or unit and percentage of devices, what each device
reports running, the version census, and the agency's feature switches.

Central checks a published repository with the device's own checks
(firmware_images.trust) at its own time, so a kiosk is never handed metadata
a tablet would refuse; it does not sign anything itself. An image's bytes are
taken only when the published targets name them (length and SHA-256).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, and_, func, or_, select, update

from central.database import for_update
from central.errors import Conflict, InvalidInput, NotFound
from central.schema import (
    facilities,
    feature_switches,
    firmware_images,
    firmware_metadata,
    firmware_reports,
    firmware_rollouts,
    tablets,
    units,
)
from central.services.core import Central, audit
from central.services.scope import Scope
from firmware_images.bundle import MetadataBundle
from firmware_images.errors import FirmwareError
from firmware_images.repository import ImageEntry
from firmware_images.trust import TrustedMetadata, TrustedSet, all_images, root_version

ROLES = ("timestamp", "snapshot", "targets")
STATES = ("active", "paused", "stopped")
FEATURE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
SERIAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
KINDS = ("tablet", "kiosk")


@dataclass(frozen=True)
class Published:
    root_version: int
    timestamp_version: int
    images: tuple[ImageEntry, ...]


@dataclass(frozen=True)
class ImageRow:
    name: str
    sha256: str
    length: int
    model: str
    kind: str
    version: int
    uploaded: bool


@dataclass(frozen=True)
class Rollout:
    id: int
    image: str
    sha256: str
    length: int
    facility_id: str
    unit_id: str | None
    percent: int
    state: str
    updated_at: int


@dataclass(frozen=True)
class Report:
    """What a device says it runs (firmware_images.device.Report, with its serial)."""

    serial: str
    kind: str
    model: str
    version: int
    slot: str
    event: str
    root_version: int


@dataclass(frozen=True)
class CensusRow:
    kind: str
    model: str
    version: int
    slot: str
    event: str
    devices: int


@dataclass(frozen=True)
class KioskPlace:
    kiosk_id: str
    unit_id: str
    facility_id: str
    agency_id: str


def kiosk_place(c: Central, kiosk_id: str, unit_id: str) -> KioskPlace:
    with c.db.read() as conn:
        row = conn.execute(select(units.c.facility_id, facilities.c.agency_id)
                           .join(facilities, facilities.c.id == units.c.facility_id)
                           .where(units.c.id == unit_id)).first()
    if row is None:
        raise NotFound(f"no unit {unit_id}")
    return KioskPlace(kiosk_id, unit_id, str(row.facility_id), str(row.agency_id))


# -- publishing --------------------------------------------------------------------------


def publish(c: Central, bundle_bytes: bytes, *, scope: Scope,
            agency_id: str | None = None) -> Published:
    """Take a new state of the agency's repository: its root versions (those
    after the one central holds are checked in turn; the first publication
    starts with root version 1, which the agency administrator vouches for),
    then timestamp, snapshot and targets.
    Everything must pass the device's checks at central's time. Raises
    InvalidInput (code ``firmware_refused``) for anything a device would refuse,
    Forbidden for anyone but an agency administrator."""
    scope.agency_level("publish firmware")
    agency = agency_id or scope.agency_id
    scope.agency(agency, f"agency {agency}")
    assert agency is not None
    try:
        bundle = MetadataBundle.from_bytes(bundle_bytes)
    except FirmwareError as e:
        raise InvalidInput(f"not a metadata bundle: {e}", code="firmware_refused") from e
    now = datetime.datetime.fromtimestamp(c.clock(), datetime.UTC)
    with c.db.write() as conn:
        stored = _stored(conn, agency, lock=True)
        roots = list(bundle.roots)
        if "root" not in stored:
            if not roots:
                raise InvalidInput("the first publication starts with root version 1",
                                   code="firmware_refused")
            first = roots.pop(0)
            try:
                if root_version(first) != 1:
                    raise InvalidInput("the first publication starts with root version 1",
                                       code="firmware_refused")
                trusted = TrustedMetadata(first)
                TrustedSet(trusted)
            except FirmwareError as e:
                raise InvalidInput(f"root version 1 refused: {e}", code="firmware_refused") \
                    from e
            _put(conn, c, agency, "1.root.json", 1, first)
            stored["root"] = first
        else:
            trusted = TrustedMetadata(stored["root"], stored.get("timestamp"),
                                      stored.get("snapshot"), stored.get("targets"))
        try:
            checks = TrustedSet(trusted)
            held = checks.root.version
            for root in roots:
                if root_version(root) <= held:
                    continue  # a root version already published: the chain goes on after it
                new_root = checks.update_root(root)
                _put(conn, c, agency, f"{new_root.version}.root.json", new_root.version, root)
            timestamp = checks.update_timestamp(bundle.timestamp)
            verified = checks.finish(bundle.snapshot, bundle.targets, now)
        except FirmwareError as e:
            raise InvalidInput(f"a device would refuse this: {e}", code="firmware_refused") \
                from e
        _put(conn, c, agency, "root.json", verified.root_version, verified.trusted.root)
        for role, data, version in (("timestamp", bundle.timestamp, timestamp.version),
                                    ("snapshot", bundle.snapshot, 0),
                                    ("targets", bundle.targets, verified.targets.version)):
            _put(conn, c, agency, f"{role}.json", version, data)
        entries = all_images(verified.targets)
        for entry in entries:
            exists = conn.execute(select(firmware_images.c.sha256).where(
                firmware_images.c.agency_id == agency,
                firmware_images.c.name == entry.name)).scalar()
            if exists is None:
                conn.execute(firmware_images.insert().values(
                    agency_id=agency, name=entry.name, sha256=entry.sha256,
                    length=entry.length, model=entry.model, kind=entry.kind,
                    version=entry.version, uploaded_at=0))
            elif exists != entry.sha256:
                raise InvalidInput(f"{entry.name} was published with other bytes before",
                                   code="firmware_refused")
        audit(conn, c, scope.staff_id, "firmware.publish", f"agency:{agency}", agency=agency,
              root=verified.root_version, timestamp=timestamp.version,
              targets=verified.targets.version)
    return Published(verified.root_version, timestamp.version, tuple(entries))


def image_length(c: Central, sha256: str, *, scope: Scope) -> int:
    """The signed length of an image the agency's targets name, to bound its
    upload. Raises NotFound."""
    scope.agency_level("upload firmware")
    with c.db.read() as conn:
        length = conn.execute(select(firmware_images.c.length).where(
            firmware_images.c.agency_id == scope.agency_id,
            firmware_images.c.sha256 == sha256)).scalar()
    if length is None and scope.is_system:
        with c.db.read() as conn:
            length = conn.execute(select(firmware_images.c.length).where(
                firmware_images.c.sha256 == sha256)).scalar()
    if length is None:
        raise NotFound(f"no published firmware image {sha256}")
    return int(length)


def image_uploaded(c: Central, sha256: str, *, scope: Scope) -> None:
    """Mark an image's bytes as stored (the blob store checked length and hash)."""
    with c.db.write() as conn:
        conn.execute(update(firmware_images).where(
            firmware_images.c.sha256 == sha256,
            firmware_images.c.uploaded_at == 0).values(uploaded_at=c.clock()))
        audit(conn, c, scope.staff_id, "firmware.upload", f"image:{sha256}",
              agency=scope.agency_id)


def images(c: Central, *, scope: Scope) -> list[ImageRow]:
    with c.db.read() as conn:
        rows = conn.execute(select(firmware_images).where(
            firmware_images.c.agency_id == scope.agency_id)
            .order_by(firmware_images.c.name)).all()
    return [ImageRow(r.name, r.sha256, int(r.length), r.model, r.kind, int(r.version),
                     bool(r.uploaded_at)) for r in rows]


# -- rollouts ----------------------------------------------------------------------------


def start_rollout(c: Central, *, scope: Scope, image: str, facility_id: str,
                  unit_id: str | None, percent: int) -> int:
    """Stage ``image`` at a facility (or one of its units) for ``percent`` of
    its devices. Raises NotFound for a place or image out of reach, InvalidInput
    for an image whose bytes are not uploaded or a percent out of 0-100."""
    scope.facility(facility_id, f"facility {facility_id}")
    if not 0 <= percent <= 100:
        raise InvalidInput("percent is 0 to 100", code="bad_percent")
    with c.db.write() as conn:
        agency = conn.execute(select(facilities.c.agency_id).where(
            facilities.c.id == facility_id)).scalar()
        if agency is None:
            raise NotFound(f"no facility {facility_id}")
        if unit_id is not None:
            scope.unit(unit_id, f"unit {unit_id}")
            place = conn.execute(select(units.c.facility_id).where(
                units.c.id == unit_id)).scalar()
            if place != facility_id:
                raise NotFound(f"no unit {unit_id} at facility {facility_id}")
        row = conn.execute(select(firmware_images).where(
            firmware_images.c.agency_id == agency, firmware_images.c.name == image)).first()
        if row is None:
            raise NotFound(f"no published firmware image {image}")
        if not row.uploaded_at or not c.blobs.exists(row.sha256):
            raise InvalidInput(f"upload the bytes of {image} first", code="not_uploaded")
        now = c.clock()
        inserted = conn.execute(firmware_rollouts.insert().values(
            agency_id=agency, image=image, facility_id=facility_id, unit_id=unit_id,
            percent=percent, state="active", created_by=scope.staff_id, created_at=now,
            updated_at=now)).inserted_primary_key
        assert inserted is not None
        rollout_id = int(inserted[0])
        audit(conn, c, scope.staff_id, "firmware.rollout", f"rollout:{rollout_id}",
              facility=facility_id, image=image, unit=unit_id, percent=percent)
    return rollout_id


def change_rollout(c: Central, rollout_id: int, *, scope: Scope, state: str | None = None,
                   percent: int | None = None) -> Rollout:
    """Pause, resume, stop (final) a rollout, or change its percentage."""
    if state is not None and state not in STATES:
        raise InvalidInput(f"a rollout's state is one of {', '.join(STATES)}", code="bad_state")
    if percent is not None and not 0 <= percent <= 100:
        raise InvalidInput("percent is 0 to 100", code="bad_percent")
    with c.db.write() as conn:
        row = conn.execute(for_update(select(firmware_rollouts).where(
            firmware_rollouts.c.id == rollout_id))).first()
        if row is None:
            raise NotFound(f"no rollout {rollout_id}")
        scope.facility(row.facility_id, f"rollout {rollout_id}")
        if row.state == "stopped" and (state, percent) != ("stopped", None):
            raise Conflict(f"rollout {rollout_id} is stopped; start a new one",
                           code="rollout_stopped")
        values = {"updated_at": c.clock()}
        if state is not None:
            values["state"] = state  # type: ignore[assignment]
        if percent is not None:
            values["percent"] = percent
        conn.execute(update(firmware_rollouts).where(
            firmware_rollouts.c.id == rollout_id).values(**values))
        audit(conn, c, scope.staff_id, "firmware.rollout_change", f"rollout:{rollout_id}",
              facility=row.facility_id, state=state, percent=percent)
        return _rollouts(conn, firmware_rollouts.c.id == rollout_id)[0]


def rollouts(c: Central, *, scope: Scope) -> list[Rollout]:
    with c.db.read() as conn:
        return _rollouts(conn, scope.facilities_clause(firmware_rollouts.c.facility_id))


def rollouts_for_kiosk(c: Central, place: KioskPlace) -> list[Rollout]:
    """The active rollouts that reach this kiosk's unit."""
    with c.db.read() as conn:
        return _rollouts(conn, and_(
            firmware_rollouts.c.facility_id == place.facility_id,
            firmware_rollouts.c.state == "active",
            or_(firmware_rollouts.c.unit_id.is_(None),
                firmware_rollouts.c.unit_id == place.unit_id)))


def _rollouts(conn: Connection, where: object) -> list[Rollout]:
    rows = conn.execute(select(firmware_rollouts, firmware_images.c.sha256,
                               firmware_images.c.length)
                        .join(firmware_images, and_(
                            firmware_images.c.agency_id == firmware_rollouts.c.agency_id,
                            firmware_images.c.name == firmware_rollouts.c.image))
                        .where(where)  # type: ignore[arg-type]
                        .order_by(firmware_rollouts.c.id)).all()
    return [Rollout(int(r.id), r.image, r.sha256, int(r.length), r.facility_id, r.unit_id,
                    int(r.percent), r.state, int(r.updated_at)) for r in rows]


# -- what kiosks fetch -------------------------------------------------------------------


def metadata_file(c: Central, place: KioskPlace, name: str) -> bytes:
    """One file of the kiosk's agency's repository (``N.root.json``, ``root.json``,
    ``timestamp.json``, ``snapshot.json``, ``targets.json``). Raises NotFound."""
    if not re.fullmatch(r"([1-9][0-9]{0,8}\.)?root\.json|timestamp\.json|snapshot\.json"
                        r"|targets\.json", name):
        raise NotFound(f"no firmware metadata {name[:40]!r}")
    with c.db.read() as conn:
        data = conn.execute(select(firmware_metadata.c.data).where(
            firmware_metadata.c.agency_id == place.agency_id,
            firmware_metadata.c.name == name)).scalar()
    if data is None:
        raise NotFound(f"no firmware metadata {name}")
    return bytes(data)


def image_for_kiosk(c: Central, place: KioskPlace, sha256: str) -> None:
    """Raises NotFound unless the kiosk's agency published this image and its
    bytes are here."""
    with c.db.read() as conn:
        uploaded = conn.execute(select(firmware_images.c.uploaded_at).where(
            firmware_images.c.agency_id == place.agency_id,
            firmware_images.c.sha256 == sha256)).scalar()
    if not uploaded or not c.blobs.exists(sha256):
        raise NotFound(f"no firmware image {sha256}")


# -- reports and the census --------------------------------------------------------------


def record_reports(c: Central, place: KioskPlace, reports: Iterable[Report]) -> int:
    """Keep what each device docked at (or the kiosk itself) says it runs.
    A tablet must be one of this facility's; a kiosk reports only itself.
    Raises NotFound (nothing kept) otherwise."""
    now = c.clock()
    count = 0
    with c.db.write() as conn:
        for r in reports:
            if r.kind not in KINDS or not SERIAL.match(r.serial) or r.slot not in ("a", "b"):
                raise InvalidInput(f"a report of {r.serial[:64]!r} is malformed",
                                   code="bad_report")
            if r.kind == "kiosk" and r.serial != place.kiosk_id:
                raise NotFound(f"no kiosk {r.serial}: a kiosk reports only itself")
            if r.kind == "tablet":
                facility = conn.execute(select(tablets.c.facility_id).where(
                    tablets.c.serial == r.serial)).first()
                if facility is None or facility.facility_id != place.facility_id:
                    raise NotFound(f"no tablet {r.serial} at this facility")
            values = {"kind": r.kind, "model": r.model, "version": r.version, "slot": r.slot,
                      "event": r.event, "root_version": r.root_version,
                      "kiosk_id": place.kiosk_id, "facility_id": place.facility_id,
                      "unit_id": place.unit_id, "reported_at": now}
            done = conn.execute(update(firmware_reports).where(
                firmware_reports.c.serial == r.serial).values(**values))
            if done.rowcount == 0:
                conn.execute(firmware_reports.insert().values(serial=r.serial, **values))
            count += 1
    return count


def census(c: Central, *, scope: Scope) -> list[CensusRow]:
    """How many devices in reach run each version, from which slot, and what
    last happened (``rolled_back`` shows an image that failed its check)."""
    with c.db.read() as conn:
        rows = conn.execute(select(
            firmware_reports.c.kind, firmware_reports.c.model, firmware_reports.c.version,
            firmware_reports.c.slot, firmware_reports.c.event, func.count().label("devices"))
            .where(scope.facilities_clause(firmware_reports.c.facility_id))
            .group_by(firmware_reports.c.kind, firmware_reports.c.model,
                      firmware_reports.c.version, firmware_reports.c.slot,
                      firmware_reports.c.event)
            .order_by(firmware_reports.c.kind, firmware_reports.c.model,
                      firmware_reports.c.version, firmware_reports.c.slot,
                      firmware_reports.c.event)).all()
    return [CensusRow(r.kind, r.model, int(r.version), r.slot, r.event, int(r.devices))
            for r in rows]


# -- feature switches --------------------------------------------------------------------


def set_feature(c: Central, feature: str, enabled: bool, *, scope: Scope) -> None:
    """Turn a feature on or off for every tablet of the agency, at their next dock."""
    scope.agency_level("switch a feature for the whole agency")
    if not FEATURE.match(feature):
        raise InvalidInput("a feature is 1-32 lowercase letters, digits or _",
                           code="bad_feature")
    agency = scope.agency_id
    with c.db.write() as conn:
        done = conn.execute(update(feature_switches).where(
            feature_switches.c.agency_id == agency, feature_switches.c.feature == feature)
            .values(enabled=enabled, updated_by=scope.staff_id, updated_at=c.clock()))
        if done.rowcount == 0:
            conn.execute(feature_switches.insert().values(
                agency_id=agency, feature=feature, enabled=enabled,
                updated_by=scope.staff_id, updated_at=c.clock()))
        audit(conn, c, scope.staff_id, "feature.switch", f"feature:{feature}", agency=agency,
              enabled=enabled)


def features(c: Central, agency_id: str) -> tuple[int, dict[str, bool]]:
    """The agency's switches, and when they last changed (their version)."""
    with c.db.read() as conn:
        rows = conn.execute(select(feature_switches).where(
            feature_switches.c.agency_id == agency_id)).all()
    version = max((int(r.updated_at) for r in rows), default=0)
    return version, {r.feature: bool(r.enabled) for r in sorted(rows, key=lambda r: r.feature)}


# -- inside --------------------------------------------------------------------------------


def _stored(conn: Connection, agency: str, *, lock: bool = False) -> dict[str, bytes]:
    query = select(firmware_metadata.c.name, firmware_metadata.c.data).where(
        firmware_metadata.c.agency_id == agency,
        firmware_metadata.c.name.in_(["root.json", *(f"{r}.json" for r in ROLES)]))
    rows = conn.execute(for_update(query) if lock else query).all()
    return {r.name.removesuffix(".json"): bytes(r.data) for r in rows}


def _put(conn: Connection, c: Central, agency: str, name: str, version: int,
         data: bytes) -> None:
    done = conn.execute(update(firmware_metadata).where(
        firmware_metadata.c.agency_id == agency, firmware_metadata.c.name == name)
        .values(version=version, data=data, updated_at=c.clock()))
    if done.rowcount == 0:
        conn.execute(firmware_metadata.insert().values(
            agency_id=agency, name=name, version=version, data=data, updated_at=c.clock()))
