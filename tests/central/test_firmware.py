"""Firmware on the central server, over real HTTPS on SQLite and PostgreSQL:
publishing checked as a device checks, images taken only at their signed
length and hash, kiosks fetching metadata and images (resumed with Range),
rollouts per facility, unit and percentage (paused, stopped), reports and the
census within a staff member's reach, and feature switches per agency."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import requests

from central.services import accounts
from firmware_images.bundle import MetadataBundle
from firmware_images.rollout import in_rollout
from firmware_images.trust import Installed, TrustedMetadata, choose_image, verify_bundle
from tests.central.api_server import ApiServer
from tests.central.facility import STAFF_PASSWORD, SYSTEM, Facility
from tests.firmware.world import Publisher, signer

CBOR = {"Content-Type": "application/cbor"}


@pytest.fixture
def publisher(facility: Facility, tmp_path: Path) -> Publisher:
    when = datetime.datetime.fromtimestamp(facility.clock(), datetime.UTC)
    p = Publisher(tmp_path / "agency", now=when - datetime.timedelta(minutes=5))
    p.publish(2, size=300_000)
    p.publish(3, size=300_000, min_version=2)
    return p


def _publish(api: ApiServer, publisher: Publisher, since: int = 0) -> dict[str, object]:
    bundle = publisher.repo.bundle(since)
    answer = api.staff("administrator").put("/v1/staff/firmware/metadata",
                                             data=bundle.to_bytes(), headers=CBOR)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _patch(client: object, path: str, **kw: object) -> requests.Response:
    """requests' PATCH through the test client's session."""
    return client.http.patch(client.base + path, timeout=30, **kw)  # type: ignore[attr-defined]


def _upload(api: ApiServer, publisher: Publisher, version: int) -> str:
    entry = next(e for e in publisher.repo.images() if e.version == version)
    answer = api.staff("administrator").put(
        f"/v1/staff/firmware/images/{entry.sha256}",
        data=publisher.repo.image_path(entry.sha256).read_bytes())
    assert answer.status_code == 201, answer.text
    return entry.sha256


def test_a_published_repository_reaches_a_kiosk_as_signed(api: ApiServer,
                                                          publisher: Publisher) -> None:
    done = _publish(api, publisher)
    assert done["root_version"] == 1 and len(done["images"]) == 2  # type: ignore[arg-type]
    kiosk = api.session("K-A2")
    files = {}
    for name in ("1.root.json", "timestamp.json", "snapshot.json", "targets.json"):
        answer = kiosk.get(f"/v1/kiosk/firmware/metadata/{name}")
        assert answer.status_code == 200, answer.text
        files[name] = answer.content
        assert files[name] == (publisher.repo.metadata_dir / name).read_bytes()
    verified = verify_bundle(TrustedMetadata(files["1.root.json"]), MetadataBundle(
        (), files["timestamp.json"], files["snapshot.json"], files["targets.json"]),
        publisher.now + datetime.timedelta(hours=1))
    assert choose_image(verified.targets, Installed("JP5S", "tablet", 1)).version == 2  # type: ignore[union-attr]
    for bad in ("../../etc/passwd", "0.root.json", "x.json", "root.json.bak"):
        assert kiosk.get(f"/v1/kiosk/firmware/metadata/{bad}").status_code == 404
    assert api.session().get("/v1/kiosk/firmware/metadata/root.json").status_code == 401


def test_what_a_device_would_refuse_is_not_published(api: ApiServer,
                                                     publisher: Publisher) -> None:
    _publish(api, publisher)
    admin = api.staff("administrator")
    # replayed: the same state again is fine, an older one is not
    old = publisher.repo.bundle(1)
    publisher.publish(4, size=1000)
    _publish(api, publisher, since=1)
    refused = admin.put("/v1/staff/firmware/metadata", data=old.to_bytes(), headers=CBOR)
    assert refused.status_code == 422 and refused.json()["error"] == "firmware_refused"
    # one key of the targets' threshold of two
    publisher.signers["targets"] = [signer("targets-1")]
    publisher.publish(5, size=1000)
    refused = admin.put("/v1/staff/firmware/metadata", data=publisher.repo.bundle(1).to_bytes(),
                        headers=CBOR)
    assert refused.status_code == 422 and "threshold" in refused.json()["message"]
    for junk in (b"", b"\x00" * 100, b"\xa0"):
        assert admin.put("/v1/staff/firmware/metadata", data=junk,
                         headers=CBOR).status_code == 422
    # only an agency administrator publishes
    technician = api.staff("technician")
    assert technician.put("/v1/staff/firmware/metadata", data=old.to_bytes(),
                          headers=CBOR).status_code == 403


def test_image_bytes_are_taken_only_at_their_signed_length_and_hash(
        api: ApiServer, publisher: Publisher) -> None:
    _publish(api, publisher)
    admin = api.staff("administrator")
    entry = next(e for e in publisher.repo.images() if e.version == 2)
    data = publisher.repo.image_path(entry.sha256).read_bytes()
    url = f"/v1/staff/firmware/images/{entry.sha256}"
    assert admin.put(url, data=data + b"endless").status_code == 422
    assert admin.put(url, data=data[:-1] + bytes([data[-1] ^ 1])).status_code == 422
    assert admin.put(url, data=data[:1000]).status_code == 422
    assert admin.put("/v1/staff/firmware/images/" + "0" * 64, data=data).status_code == 404
    kiosk = api.session("K-A2")
    assert kiosk.get(f"/v1/kiosk/firmware/images/{entry.sha256}").status_code == 404
    assert admin.put(url, data=data).status_code == 201
    whole = kiosk.get(f"/v1/kiosk/firmware/images/{entry.sha256}")
    assert whole.status_code == 200 and whole.content == data
    rest = kiosk.get(f"/v1/kiosk/firmware/images/{entry.sha256}",
                     headers={"Range": f"bytes={len(data) - 1000}-"})
    assert rest.status_code == 206 and rest.content == data[-1000:]
    listed = admin.get("/v1/staff/firmware/images").json()
    assert [i["uploaded"] for i in listed] == [True, False]


def test_rollouts_per_unit_and_percent_paused_and_stopped(api: ApiServer,
                                                          publisher: Publisher) -> None:
    _publish(api, publisher)
    admin = api.staff("administrator")
    body = {"image": "JP5S/tablet-2.img", "facility_id": "F1", "unit_id": "U-A", "percent": 50}
    assert admin.post("/v1/staff/firmware/rollouts", json=body).status_code == 422  # no bytes
    _upload(api, publisher, 2)
    started = admin.post("/v1/staff/firmware/rollouts", json=body)
    assert started.status_code == 201, started.text
    rollout = started.json()
    a, b = api.session("K-A2"), api.session("K-B2")
    assert [r["id"] for r in a.get("/v1/kiosk/firmware/rollouts").json()] == [rollout["id"]]
    assert b.get("/v1/kiosk/firmware/rollouts").json() == []  # another unit
    serials = [f"JP5S-{n:06d}" for n in range(400)]
    reached = [s for s in serials if in_rollout(rollout["image"], s, 50)]
    assert 140 < len(reached) < 260
    assert set(reached) <= {s for s in serials if in_rollout(rollout["image"], s, 80)}
    url = f"/v1/staff/firmware/rollouts/{rollout['id']}"
    assert _patch(admin, url, json={"state": "paused"}).json()["state"] == "paused"
    assert a.get("/v1/kiosk/firmware/rollouts").json() == []
    assert _patch(admin, url, json={"state": "active", "percent": 100}).json()["percent"] == 100
    assert len(a.get("/v1/kiosk/firmware/rollouts").json()) == 1
    assert _patch(admin, url, json={"state": "stopped"}).status_code == 200
    assert a.get("/v1/kiosk/firmware/rollouts").json() == []
    assert _patch(admin, url, json={"state": "active"}).status_code == 409
    assert _patch(admin, url, json={"state": "gone"}).status_code == 422
    for bad in ({**body, "percent": 101}, {**body, "unit_id": "U-NONE"},
                {**body, "image": "JP5S/tablet-9.img"}):
        assert admin.post("/v1/staff/firmware/rollouts", json=bad).status_code in (404, 422)


def test_rollouts_reports_and_census_stay_within_reach(api: ApiServer, facility: Facility,
                                                       publisher: Publisher) -> None:
    c = facility.central
    accounts.create_facility(c, "F2", "WA", "Birch Hill", "staff@birch.example")
    accounts.create_unit(c, "U-C", "F2", "C unit")
    accounts.create_staff(c, "tech2", "Tech Two", "technician", STAFF_PASSWORD,
                          facility_id="F2", agency_id="WA", scope=SYSTEM)
    accounts.create_staff(c, "admin2", "Admin Two", "administrator", STAFF_PASSWORD,
                          facility_id="F2", agency_id="WA", scope=SYSTEM)
    for serial, where in (("JP5S-000001", "F1"), ("JP5S-000002", "F1"), ("JP5S-000009", "F2")):
        accounts.register_tablet(c, serial, None, scope=SYSTEM, facility_id=where)
    _publish(api, publisher)
    _upload(api, publisher, 2)
    kiosk = api.session("K-A2")
    report = {"kind": "tablet", "model": "JP5S", "version": 2, "slot": "b",
              "event": "marked_good", "root_version": 1}
    sent = kiosk.post("/v1/kiosk/firmware/reports", json={"reports": [
        {**report, "serial": "JP5S-000001"},
        {**report, "serial": "JP5S-000002", "version": 1, "slot": "a", "event": "rolled_back"},
        {**report, "serial": "K-A2", "kind": "kiosk", "model": "K1", "slot": "a"}]})
    assert sent.status_code == 200 and sent.json() == {"count": 3}
    # a tablet of another facility, a kiosk speaking for another: nothing kept
    for stray in ({**report, "serial": "JP5S-000009"}, {**report, "serial": "JP5S-UNKNOWN"},
                  {**report, "serial": "K-B2", "kind": "kiosk"}):
        assert kiosk.post("/v1/kiosk/firmware/reports",
                          json={"reports": [stray]}).status_code == 404
    census = api.staff("technician").get("/v1/staff/firmware/census").json()
    assert {(r["kind"], r["version"], r["slot"], r["event"], r["devices"]) for r in census} == {
        ("tablet", 2, "b", "marked_good", 1), ("tablet", 1, "a", "rolled_back", 1),
        ("kiosk", 2, "a", "marked_good", 1)}

    def login(username: str) -> object:
        answer = api.session().post("/v1/staff/sessions",
                                    json={"username": username, "password": STAFF_PASSWORD})
        return api.session(token=answer.json()["token"])

    tech2, admin2 = login("tech2"), login("admin2")
    assert tech2.get("/v1/staff/firmware/census").json() == []  # type: ignore[attr-defined]
    started = api.staff("administrator").post("/v1/staff/firmware/rollouts", json={
        "image": "JP5S/tablet-2.img", "facility_id": "F1", "percent": 10})
    rollout = started.json()["id"]
    assert tech2.get("/v1/staff/firmware/rollouts").json() == []  # type: ignore[attr-defined]
    assert _patch(admin2, f"/v1/staff/firmware/rollouts/{rollout}",
                        json={"state": "stopped"}).status_code == 404
    assert admin2.post("/v1/staff/firmware/rollouts", json={  # type: ignore[attr-defined]
        "image": "JP5S/tablet-2.img", "facility_id": "F1", "percent": 10}).status_code == 404
    assert admin2.put("/v1/staff/firmware/metadata",  # type: ignore[attr-defined]
                      data=publisher.repo.bundle(1).to_bytes(), headers=CBOR).status_code == 403


def test_feature_switches_per_agency(api: ApiServer, facility: Facility) -> None:
    admin = api.staff("administrator")
    kiosk = api.session("K-B2")
    assert kiosk.get("/v1/kiosk/firmware/features").json()["features"] == {}
    assert admin.put("/v1/staff/firmware/features/video_calls",
                     json={"enabled": False}).status_code == 204
    facility.clock.advance(5)
    assert admin.put("/v1/staff/firmware/features/music",
                     json={"enabled": True}).status_code == 204
    got = kiosk.get("/v1/kiosk/firmware/features").json()
    assert got["agency_id"] == "WA" and got["version"] == facility.clock()
    assert got["features"] == {"music": True, "video_calls": False}
    assert api.staff("technician").put("/v1/staff/firmware/features/music",
                                       json={"enabled": False}).status_code == 403
    assert admin.put("/v1/staff/firmware/features/Bad-Name",
                     json={"enabled": False}).status_code == 422


def test_the_command_line_publishes_to_the_server(api: ApiServer, publisher: Publisher,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from tests.firmware.test_cli import run
    admin = api.staff("administrator")
    token = str(admin.http.headers["Authorization"]).removeprefix("Bearer ")
    # --token=...: a token may begin with "-", which would read as an option
    args = [str(publisher.repo.path), "--server", api.url, f"--token={token}",
            "--ca", str(api.ca_file)]
    assert run("publish", *args) == 0
    assert run("publish", *args) == 0  # again: nothing new, nothing uploaded twice
    out = capsys.readouterr().out
    assert out.count("uploaded JP5S/tablet-") == 2
    assert all(i["uploaded"] for i in admin.get("/v1/staff/firmware/images").json())
    assert run("status", *args) == 0
    assert "rollouts:" in capsys.readouterr().out
    assert run("publish", *args[:-3], "--token", "wrong", "--ca", str(api.ca_file)) == 2
