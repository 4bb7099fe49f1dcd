"""A released resident's archive on a USB stick, made at the kiosk's
maintenance menu by a technician signed in as staff, through the real
server: the zip on the stick holds every message and photo, the server
audits it with the kiosk and the staff member; nobody unsigned, no other
role, no resident not released, no name that is not a plain ID, and no
stick pulled out halfway leaves a file behind. The simulated stick is
pulled out at each stage of the write (while the bytes go in, before the
fsync, before the read-back, before the rename), and pulled and put back:
each time nothing counts as written and the stick holds nothing under the
archive's name; put back, the same call writes it whole. A stick that gives
back other bytes than were written is refused too."""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from central.schema import audit_log
from hw.mass_storage import StickFile, UsbStick
from kiosk.central_client import BLOCK, CentralClient, KioskCredentials
from kiosk.config import KioskConfig, SyncConfig
from kiosk.maintenance import Maintenance
from simulators.kiosk_hw import UsbStickPort
from tests.central.api_server import ApiServer
from tests.central.test_api import PHOTO, _approved_family
from tests.central.test_essential_requests import _resident
from tests.central.test_release import _family_writes
from tests.kiosk.test_service_parts import maintenance_part


def _maintenance(server: ApiServer, tmp_path: Path, stick: Path) -> Maintenance:
    kiosk = KioskConfig(location_code="CC-A-HALL", unit="U-A", state_dir=str(tmp_path),
                        usb_stick=str(stick))
    part = maintenance_part(tmp_path, kiosk, sync=SyncConfig(cache_dir=str(tmp_path / "c")))
    ident = server.kiosks["K-A2"]
    part.client = CentralClient(server.url, KioskCredentials(ident.certificate, ident.key,
                                                             server.ca_file), attempts=1)
    return part


def test_a_technician_writes_a_released_residents_archive_to_the_stick(
        api: ApiServer, tmp_path: Path) -> None:
    _, rid = _resident(api)
    fam, contact_id = _approved_family(api)
    uids, sha = _family_writes(fam, 3)
    _resident(api, "100002")  # not released
    assert api.staff("administrator").post(f"/v1/staff/residents/{rid}/release", json={
        "designee_contact_id": contact_id}).status_code == 201
    stick = tmp_path / "stick"
    stick.mkdir()
    menu = _maintenance(api, tmp_path, stick)

    assert menu.archive_to_stick("100001").code == "not_signed_in"
    assert menu.staff_sign_in("reviewer", "correct horse battery").ok
    refused = menu.archive_to_stick("100001")
    assert not refused.ok and refused.code == "forbidden", refused
    menu.staff_sign_out()
    assert menu.staff_sign_in("technician", "correct horse battery").ok
    for who, code in (("100002", "not_found"), ("../100001", "bad_id"), ("", "bad_id")):
        answer = menu.archive_to_stick(who)
        assert not answer.ok and answer.code == code, (who, answer)
    assert list(stick.iterdir()) == []  # nothing left behind, not even a part

    written = menu.archive_to_stick("100001").get()
    assert [p.name for p in stick.iterdir()] == ["archive-100001.zip"] == [written.name]
    with zipfile.ZipFile(stick / written.name) as zf:
        manifest = json.loads(zf.read("archive.json"))
        assert [m["uid"] for m in manifest["messages"]] == uids
        assert zf.read(f"blobs/{sha}") == PHOTO
        assert written.files == len(zf.namelist())
    with api.facility.central.db.read() as conn:
        [entry] = conn.execute(select(audit_log).where(audit_log.c.action == "release.usb")
                               ).all()
    assert json.loads(entry.detail)["kiosk"] == "K-A2" and entry.staff_id is not None
    assert entry.target == f"resident:{rid}"

    assert written.sha256 == hashlib.sha256((stick / written.name).read_bytes()).hexdigest()

    shutil.rmtree(stick)  # the stick is pulled out
    answer = menu.archive_to_stick("100001")
    assert not answer.ok and answer.code == "no_stick" and not stick.exists()
    menu.staff_sign_out()


@pytest.fixture()
def released(api: ApiServer, tmp_path: Path) -> Iterator[tuple[Maintenance,
                                                               UsbStickPort, bytes]]:
    """A released resident's archive, the menu signed in as a technician,
    the simulated stick in its port; the archive's bytes as the server
    sends them (written once to a stick, to compare)."""
    _, rid = _resident(api)
    fam, contact_id = _approved_family(api)
    _family_writes(fam, 3)
    # A photo of 1.2 MB that does not compress: the archive is written in many blocks.
    big = b"\xff\xd8\xff\xe0" + random.Random(7).randbytes(1_200_000)
    sha = fam.post("/v1/family/blobs", data=big,
                   headers={"Content-Type": "image/jpeg"}).json()["sha256"]
    assert fam.post("/v1/family/messages", json={
        "uid": "fam-msg-big", "resident_agency_id": "100001", "body": "A big photo",
        "attachments": [{"kind": "photo", "sha256": sha}]}).status_code == 201
    assert api.staff("administrator").post(f"/v1/staff/residents/{rid}/release", json={
        "designee_contact_id": contact_id}).status_code == 201
    port = UsbStickPort(tmp_path / "usb-stick", tmp_path / "usb-stick.out")
    port.open()
    menu = _maintenance(api, tmp_path, port.mount)
    assert menu.staff_sign_in("technician", "correct horse battery").ok
    whole = menu.archive_to_stick("100001").get()
    archive = port.files()[whole.name]
    (port.mount / whole.name).unlink()
    yield menu, port, archive
    menu.staff_sign_out()


PULLS = [("writing", 0), ("writing", 1), ("writing", 3 * BLOCK), ("flushing", 0),
         ("checking", 0), ("naming", 0)]


def test_a_stick_pulled_out_at_any_stage_holds_nothing_that_counts(
        released: tuple[Maintenance, UsbStickPort, bytes]) -> None:
    menu, port, archive = released
    assert len(archive) > 4 * BLOCK  # big enough to be pulled out in the middle
    for stage, after in PULLS:
        heard: list[tuple[str, int]] = []

        def pull(at: str, size: int, stage: str = stage, after: int = after,
                 heard: list[tuple[str, int]] = heard) -> None:
            heard.append((at, size))
            if at == stage and size >= after:
                port.pull()

        answer = menu.archive_to_stick("100001", pull)
        assert not answer.ok and answer.code == "stick_pulled", (stage, after, answer)
        assert "Put the stick back" in answer.message
        assert not port.inserted and "archive-100001.zip" not in port.files()
        assert heard[-1][0] == stage  # it stopped at its next step
        port.put_back()
        again: list[str] = []

        def told(at: str, size: int, again: list[str] = again) -> None:
            again.append(at)

        written = menu.archive_to_stick("100001", told).get()
        assert port.files() == {"archive-100001.zip": archive}  # whole, and no part left
        assert written.sha256 == hashlib.sha256(archive).hexdigest()
        assert [at for at in again if at != "writing"] == ["flushing", "checking", "naming",
                                                             "written"]
        (port.mount / "archive-100001.zip").unlink()


def test_a_stick_pulled_and_put_back_before_the_read_back_counts_nothing(
        released: tuple[Maintenance, UsbStickPort, bytes]) -> None:
    menu, port, archive = released

    def out_and_in(at: str, size: int) -> None:
        if at == "checking":
            port.pull()
            port.put_back()  # a new mount: what was written may not be on it

    answer = menu.archive_to_stick("100001", out_and_in)
    assert not answer.ok and answer.code == "stick_pulled"
    assert "archive-100001.zip" not in port.files()
    assert menu.archive_to_stick("100001").ok and port.files() == {
        "archive-100001.zip": archive}
    assert port.files() == {"archive-100001.zip": archive}


def test_a_stick_that_gives_back_other_bytes_is_refused(
        released: tuple[Maintenance, UsbStickPort, bytes]) -> None:
    menu, port, archive = released

    def bad_stick(at: str, size: int) -> None:
        if at == "checking":  # flushed, and a bit comes back flipped
            [part] = port.mount.iterdir()
            data = bytearray(part.read_bytes())
            data[len(data) // 2] ^= 0x01
            part.write_bytes(bytes(data))

    answer = menu.archive_to_stick("100001", bad_stick)
    assert not answer.ok and answer.code == "stick_bad", answer
    assert port.files() == {}  # nothing under its name, no part left
    assert menu.archive_to_stick("100001").ok and port.files() == {
        "archive-100001.zip": archive}


def test_a_failed_write_leaves_nothing_under_the_final_name(tmp_path: Path) -> None:
    stick = UsbStick(tmp_path)

    def half(sink: StickFile) -> None:
        sink.write(b"PK\x03\x04 half an archive")
        raise RuntimeError("the server went away")

    with pytest.raises(RuntimeError):  # passed on as it was raised
        stick.write("archive-100001", ".zip", half)
    assert list(tmp_path.iterdir()) == []
    for label in ("../etc", ".hidden", "a/b", ""):
        with pytest.raises(ValueError):
            stick.write(label, ".zip", lambda sink: None)
