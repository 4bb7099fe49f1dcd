"""A tablet provisioned by `sallyport device provision` gets the agency's
root and a signed factory image in slot a, marked good; an image that is not
the repository's (or whose file does not match its signed entry) is refused
and the tablet is neither given slots nor registered."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_security.registry import Registry
from firmware_images.device import FirmwareDevice
from firmware_images.errors import RepositoryError, SlotError
from firmware_images.trust import TrustedSet
from sallyport.cli import main as sallyport
from tablet.device import TabletDirectory
from tests.firmware.world import Publisher


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    assert sallyport(["device", "ca-init", "--ca", str(tmp_path / "ca"),
                      "--facility", "Cedar Creek"]) == 0
    return tmp_path / "ca"


def _provision(ca: Path, tablet: Path, *extra: str) -> int:
    return sallyport(["device", "provision", "--ca", str(ca), "--registry",
                      str(ca.parent / "registry.db"), "--serial", "JP5S-000077",
                      "--device-dir", str(tablet), *extra])


def test_a_provisioned_tablet_boots_its_factory_image(
        ca: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    publisher = Publisher(tmp_path / "agency")
    factory = publisher.publish(1)
    publisher.publish(2)  # a later image in the repository is not what the factory installs
    tablet = tmp_path / "tablet"
    assert _provision(ca, tablet, "--firmware-repository", str(publisher.repo.path),
                      "--factory-image", "JP5S/tablet-1.img") == 0
    assert "JP5S/tablet-1.img (version 1) in slot a, good; root version 1" \
        in capsys.readouterr().out
    device = FirmwareDevice.open(TabletDirectory(tablet).firmware_path, time_keys={})
    state = device.state()
    assert (state.good, state.trying, state.event) == ("a", None, "provisioned")
    assert device.slots.check_bootable().sha256 == factory.sha256
    assert (device.model, device.kind, device.installed().version) == ("JP5S", "tablet", 1)
    TrustedSet(device.trusted())  # the repository's root, signing itself
    assert device.trusted().root == publisher.root(1)
    assert Registry(ca.parent / "registry.db").get("JP5S-000077") is not None


def test_an_image_not_in_the_repository_is_refused(
        ca: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    publisher = Publisher(tmp_path / "agency")
    publisher.publish(1)
    tablet = tmp_path / "tablet"
    assert _provision(ca, tablet, "--firmware-repository", str(publisher.repo.path),
                      "--factory-image", "JP5S/tablet-9.img") == 2
    assert "not a target of the repository" in capsys.readouterr().err
    assert not FirmwareDevice.is_provisioned(TabletDirectory(tablet).firmware_path)
    assert Registry(ca.parent / "registry.db").get("JP5S-000077") is None


def test_an_image_file_changed_after_signing_is_refused(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path / "agency")
    publisher.publish(1)
    (one,) = publisher.repo.images()
    path = publisher.repo.image_path(one.sha256)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(RepositoryError, match="does not match its signed entry") as e:
        FirmwareDevice.provision_from(tmp_path / "firmware", publisher.repo,
                                      "JP5S/tablet-1.img")
    assert e.value.fields["expected"] == one.sha256
    assert not FirmwareDevice.is_provisioned(tmp_path / "firmware")


def test_a_tablet_is_not_provisioned_twice(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path / "agency")
    publisher.publish(1)
    FirmwareDevice.provision_from(tmp_path / "firmware", publisher.repo, "JP5S/tablet-1.img")
    with pytest.raises(SlotError, match="already provisioned"):
        FirmwareDevice.provision_from(tmp_path / "firmware", publisher.repo,
                                      "JP5S/tablet-1.img")


def test_the_repository_and_the_image_go_together(
        ca: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _provision(ca, tmp_path / "tablet", "--factory-image", "JP5S/tablet-1.img") == 2
    assert "go together" in capsys.readouterr().err
    assert Registry(ca.parent / "registry.db").get("JP5S-000077") is None
