"""Firmware: agency administrators publish a signed repository and its images,
staff stage rollouts and read the version census, and kiosks fetch metadata,
images (by hash, with HTTP Range to resume), the rollouts that reach them and
the agency's feature switches, and report what their tablets run.
docs/firmware.md describes the whole."""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from central.api.auth import CentralDep, KioskDep, StaffMember, staff
from central.blobs import check_sha256
from central.errors import InvalidInput, NotFound
from central.services import firmware
from central.services.core import Central

staff_router = APIRouter(prefix="/v1/staff/firmware", tags=["staff"])
kiosk_router = APIRouter(prefix="/v1/kiosk/firmware", tags=["kiosk"])
Admin = Annotated[StaffMember, Depends(staff())]
Technician = Annotated[StaffMember, Depends(staff("technician"))]
Sha = Annotated[str, Path(min_length=64, max_length=64, pattern="^[0-9a-f]{64}$")]
Id = Annotated[int, Path(ge=1, le=2**53)]
Feature = Annotated[str, Path(min_length=1, max_length=32, pattern="^[a-z][a-z0-9_]*$")]
MAX_BUNDLE = 64 * 1024
CBOR = "application/cbor"


class ImageOut(BaseModel):
    name: str
    sha256: str
    length: int
    model: str
    kind: str
    version: int
    uploaded: bool = False


class PublishedOut(BaseModel):
    root_version: int
    timestamp_version: int
    images: list[ImageOut]


class RolloutIn(BaseModel):
    image: str = Field(min_length=1, max_length=128)
    facility_id: str = Field(min_length=1, max_length=32)
    unit_id: str | None = Field(default=None, min_length=1, max_length=32)
    percent: int = Field(ge=0, le=100)


class RolloutChange(BaseModel):
    state: str | None = Field(default=None, max_length=16)
    percent: int | None = Field(default=None, ge=0, le=100)


class RolloutOut(BaseModel):
    id: int
    image: str
    sha256: str
    length: int
    facility_id: str
    unit_id: str | None
    percent: int
    state: str
    updated_at: int


class CensusOut(BaseModel):
    kind: str
    model: str
    version: int
    slot: str
    event: str
    devices: int


class FeatureIn(BaseModel):
    enabled: bool


class FeaturesOut(BaseModel):
    agency_id: str
    version: int  # when a switch last changed, seconds: the kiosk passes on a newer set
    features: dict[str, bool]


class ReportIn(BaseModel):
    serial: str = Field(min_length=1, max_length=64, pattern="^[A-Za-z0-9][A-Za-z0-9_-]*$")
    kind: str = Field(pattern="^(tablet|kiosk)$")
    model: str = Field(min_length=1, max_length=32, pattern="^[A-Za-z0-9][A-Za-z0-9_-]*$")
    version: int = Field(ge=0, le=2**31 - 1)
    slot: str = Field(pattern="^[ab]$")
    event: str = Field(min_length=1, max_length=16, pattern="^[a-z_]+$")
    root_version: int = Field(ge=1, le=2**31 - 1)


class ReportsIn(BaseModel):
    reports: list[ReportIn] = Field(max_length=256)


class Counted(BaseModel):
    count: int


class IdentityOut(BaseModel):
    kiosk_id: str  # the serial of the kiosk's own firmware report
    unit_id: str
    facility_id: str
    agency_id: str


# -- staff ---------------------------------------------------------------------------------


@staff_router.put("/metadata", response_model=PublishedOut)
async def publish(request: Request, me: Admin, c: CentralDep) -> PublishedOut:
    """Publish the repository's new state: a CBOR metadata bundle (the root
    versions after the one published, then timestamp, snapshot and targets),
    checked as a device would check it. An agency administrator's."""
    body = await _bounded_body(request, MAX_BUNDLE)
    done = await run_in_threadpool(functools.partial(firmware.publish, c, body,
                                                     scope=me.scope))
    return PublishedOut(root_version=done.root_version,
                        timestamp_version=done.timestamp_version,
                        images=[ImageOut(name=e.name, sha256=e.sha256, length=e.length,
                                         model=e.model, kind=e.kind, version=e.version)
                                for e in done.images])


@staff_router.put("/images/{sha256}", response_model=ImageOut, status_code=201)
async def upload_image(sha256: Sha, request: Request, me: Admin, c: CentralDep) -> ImageOut:
    """The bytes of an image the published targets name; they must have its
    signed length and SHA-256."""
    length = await run_in_threadpool(functools.partial(firmware.image_length, c, sha256,
                                                       scope=me.scope))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > length:
            raise InvalidInput(f"more bytes than the signed length {length}",
                               code="too_large")
        chunks.append(chunk)
    if size != length:
        raise InvalidInput(f"{size} bytes, not the signed length {length}",
                           code="wrong_length")
    await run_in_threadpool(functools.partial(c.blobs.put, chunks, max_size=length,
                                              expected_sha256=sha256))
    await run_in_threadpool(functools.partial(firmware.image_uploaded, c, sha256,
                                              scope=me.scope))
    row = next((i for i in firmware.images(c, scope=me.scope) if i.sha256 == sha256), None)
    if row is None:
        raise NotFound(f"no published firmware image {sha256}")
    return ImageOut(**vars(row))


@staff_router.get("/images", response_model=list[ImageOut])
def list_images(me: Technician, c: CentralDep) -> list[ImageOut]:
    return [ImageOut(**vars(i)) for i in firmware.images(c, scope=me.scope)]


@staff_router.post("/rollouts", response_model=RolloutOut, status_code=201)
def start_rollout(body: RolloutIn, me: Admin, c: CentralDep) -> RolloutOut:
    """Stage an image at a facility (or one unit) for a percentage of devices."""
    rollout_id = firmware.start_rollout(c, scope=me.scope, image=body.image,
                                        facility_id=body.facility_id, unit_id=body.unit_id,
                                        percent=body.percent)
    return next(RolloutOut(**vars(r)) for r in firmware.rollouts(c, scope=me.scope)
                if r.id == rollout_id)


@staff_router.patch("/rollouts/{rollout_id}", response_model=RolloutOut)
def change_rollout(rollout_id: Id, body: RolloutChange, me: Admin,
                   c: CentralDep) -> RolloutOut:
    """Pause (``paused``), resume (``active``) or stop (``stopped``, final) a
    rollout, or change its percentage."""
    return RolloutOut(**vars(firmware.change_rollout(c, rollout_id, scope=me.scope,
                                                     state=body.state, percent=body.percent)))


@staff_router.get("/rollouts", response_model=list[RolloutOut])
def list_rollouts(me: Technician, c: CentralDep) -> list[RolloutOut]:
    return [RolloutOut(**vars(r)) for r in firmware.rollouts(c, scope=me.scope)]


@staff_router.get("/census", response_model=list[CensusOut])
def census(me: Technician, c: CentralDep) -> list[CensusOut]:
    """Devices in reach by kind, model, version, slot and last event."""
    return [CensusOut(**vars(r)) for r in firmware.census(c, scope=me.scope)]


@staff_router.put("/features/{feature}", status_code=204)
def switch_feature(feature: Feature, body: FeatureIn, me: Admin, c: CentralDep) -> Response:
    """Turn a feature on or off on every tablet of the agency at its next dock."""
    firmware.set_feature(c, feature, body.enabled, scope=me.scope)
    return Response(status_code=204)


@staff_router.get("/features", response_model=FeaturesOut)
def staff_features(me: Technician, c: CentralDep) -> FeaturesOut:
    agency = me.scope.agency_id or ""
    version, switches = firmware.features(c, agency)
    return FeaturesOut(agency_id=agency, version=version, features=switches)


# -- kiosks --------------------------------------------------------------------------------


def _place(c: Central, k: KioskDep) -> firmware.KioskPlace:
    return firmware.kiosk_place(c, k.kiosk_id, k.unit_id)


@kiosk_router.get("/identity", response_model=IdentityOut)
def identity(k: KioskDep, c: CentralDep) -> IdentityOut:
    """Who the authenticated kiosk is: its ID (the serial of its own report,
    ``kind=kiosk``, and its place in a rollout of a kiosk image), unit,
    facility and agency."""
    place = _place(c, k)
    return IdentityOut(kiosk_id=place.kiosk_id, unit_id=place.unit_id,
                       facility_id=place.facility_id, agency_id=place.agency_id)


@kiosk_router.get("/metadata/{name}")
def metadata(name: Annotated[str, Path(max_length=40)], k: KioskDep, c: CentralDep) -> Response:
    """One metadata file of the agency's repository, as signed."""
    return Response(firmware.metadata_file(c, _place(c, k), name),
                    media_type="application/json")


@kiosk_router.get("/images/{sha256}")
def image(sha256: Sha, k: KioskDep, c: CentralDep) -> FileResponse:
    """An image's bytes by its SHA-256; ``Range: bytes=N-`` resumes a download."""
    firmware.image_for_kiosk(c, _place(c, k), check_sha256(sha256))
    return FileResponse(c.blobs.path(sha256), media_type="application/octet-stream",
                        headers={"X-Content-SHA256": sha256})


@kiosk_router.get("/rollouts", response_model=list[RolloutOut])
def kiosk_rollouts(k: KioskDep, c: CentralDep) -> list[RolloutOut]:
    """The active rollouts that reach this kiosk's unit; the kiosk offers an
    image to the tablets whose serial falls in (firmware_images.rollout)."""
    return [RolloutOut(**vars(r)) for r in firmware.rollouts_for_kiosk(c, _place(c, k))]


@kiosk_router.post("/reports", response_model=Counted)
def reports(body: ReportsIn, k: KioskDep, c: CentralDep) -> Counted:
    """What the tablets docked here (and the kiosk itself) run."""
    count = firmware.record_reports(c, _place(c, k), [
        firmware.Report(**r.model_dump()) for r in body.reports])
    return Counted(count=count)


@kiosk_router.get("/features", response_model=FeaturesOut)
def kiosk_features(k: KioskDep, c: CentralDep) -> FeaturesOut:
    """The agency's feature switches, for the tablets at their next dock."""
    place = _place(c, k)
    version, switches = firmware.features(c, place.agency_id)
    return FeaturesOut(agency_id=place.agency_id, version=version, features=switches)


async def _bounded_body(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise InvalidInput(f"the body is over {limit} bytes", code="too_large")
    return bytes(body)

