"""A released resident's archive on a USB stick, made at the kiosk's
maintenance menu by a technician signed in as staff, through the real
server: the zip on the stick holds every message and photo, the server
audits it with the kiosk and the staff member; nobody unsigned, no other
role, no resident not released, no name that is not a plain ID, and no
stick pulled out halfway leaves a file behind."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from central.schema import audit_log
from hw.mass_storage import StickFile, UsbStick
from kiosk.central_client import CentralClient, KioskCredentials
from kiosk.config import KioskConfig, SyncConfig
from kiosk.maintenance import Maintenance
from tests.central.api_server import ApiServer
from tests.central.test_api import PHOTO, _approved_family
from tests.central.test_essential_requests import _resident
from tests.central.test_release import _family_writes
from tests.kiosk.test_rounds import api  # noqa: F401 - the server fixture
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
        api: ApiServer, tmp_path: Path) -> None:  # noqa: F811
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

    shutil.rmtree(stick)  # the stick is pulled out
    answer = menu.archive_to_stick("100001")
    assert not answer.ok and answer.code == "stick" and not stick.exists()
    menu.staff_sign_out()


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
