"""Docking end to end on simulated hardware: udev sees the tablet, the kiosk and the
tablet's own software run mutual TLS over the simulated USB link, the policy
decides, and refusals reach staff by email. Provisioning, inspection and
release go through the `sallyport device` command line."""

from __future__ import annotations

import datetime
import itertools
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from device_security import reasons
from device_security.alerts import Alerter, AlertQueue, SmtpAlertMailer, SmtpSettings
from device_security.ca_store import CertificateAuthority
from device_security.channel import Credentials
from device_security.pairing import DockedTablet, PairingGate, PairingResult, TabletTerms
from device_security.policy import KioskSession
from device_security.registry import Registry
from device_security.secure_element import KeyFileSecureElement
from hw.errors import DeviceGone
from hw.hotplug import UdevHotplug
from hw.serial_link import SerialLink, open_link
from sallyport.cli import main as sallyport
from simulators.world import World
from tablet.device import TabletDirectory
from tests.conftest import TABLET_ID
from tests.smtp_server import Inbox, smtp_server

pytestmark = pytest.mark.udev

ANA = KioskSession("A100", "Ana Reyes", frozenset({"B-2"}), "B-2")
BO = KioskSession("B200", "Bo Lind", frozenset({"B-2"}), "B-2")
_plugs = itertools.count()


@dataclass
class Dock:
    world: World
    root: Path
    gate: PairingGate
    registry: Registry
    inbox: Inbox
    links: list[SerialLink]
    terms: TabletTerms = field(default_factory=lambda: TabletTerms(unit="B-2"))  # to tablets

    def provision(self, name: str, owner: str | None = None, owner_name: str = "",
                  firmware: tuple[Path, str] | None = None, **tablet: object) -> str:
        """``firmware``: the agency's repository and the factory image's target."""
        t = self.world.add_tablet(name, **tablet)  # type: ignore[arg-type]
        args = ["device", "provision", "--ca", str(self.root / "ca"), "--registry",
                str(self.root / "registry.db"), "--serial", t.spec.serial, "--device-dir",
                str(t.directory), "--agency-key",
                str(self.root / "agency" / "agency-release.pub.pem")]
        if owner:
            args += ["--owner", owner, "--owner-name", owner_name]
        if firmware:
            args += ["--firmware-repository", str(firmware[0]), "--factory-image", firmware[1]]
        assert sallyport(args) == 0
        return t.spec.serial

    def dock(self, name: str, session: KioskSession | None) -> PairingResult:
        """Plug (if needed) and pair, as the kiosk's dock manager will."""
        return self.gate.pair(*self.plugged(name), session)

    def plugged(self, name: str) -> tuple[DockedTablet, Callable[[], SerialLink]]:
        """Plug (if needed): the tablet as udev shows it, and how to open its link."""
        if self.world.port_of(name) is None:
            self.world.plug(name)
        sys_path = self.world.status()["tablets"][name]["sys_path"]
        (device,) = [d for d in UdevHotplug([TABLET_ID]).scan() if d.sys_path == sys_path]
        tablet = DockedTablet(device.serial, device.interface_classes,
                              plug_id=f"{device.sys_path}#{self.world.link(name).kiosk_tty}")

        def open_stream() -> SerialLink:
            assert device.link_address is not None
            link = open_link(device.link_address)
            self.links.append(link)
            return link

        return tablet, open_stream

    def done(self) -> None:
        for link in self.links:
            link.close()
        self.links.clear()


@pytest.fixture
def dock(world: World, tmp_path: Path) -> Iterator[Dock]:
    root = tmp_path / "facility"
    assert sallyport(["device", "ca-init", "--ca", str(root / "ca"),
                      "--facility", "Cedar Creek"]) == 0
    assert sallyport(["device", "issue", "--ca", str(root / "ca"), "--role", "kiosk",
                      "--name", "K-B2-01", "--out", str(root / "kiosk")]) == 0
    assert sallyport(["device", "agency-key", "--out", str(root / "agency")]) == 0
    with smtp_server() as (inbox, port):
        registry = Registry(root / "registry.db")
        gate = PairingGate(
            credentials=Credentials(root / "kiosk" / "identity" / "certificate.pem",
                                    root / "kiosk" / "key.pem"),
            trust=CertificateAuthority.open(root / "ca").trust(),
            registry=registry,
            alerter=Alerter(AlertQueue(root / "alerts.db"), SmtpAlertMailer(SmtpSettings(
                "127.0.0.1", port, "kiosk@cedar.test", "staff@cedar.test", timeout=5))),
            kiosk_location="K-B2-01", handshake_timeout=5, terms=lambda: d.terms,
            sign=KeyFileSecureElement(root / "kiosk" / "key.pem").sign)
        d = Dock(world, root, gate, registry, inbox, [])
        try:
            yield d
        finally:
            d.done()


def refused(result: PairingResult, reason: str) -> None:
    assert not result.decision.allowed
    assert result.decision.reason == reason, result.decision
    assert result.channel is None


def test_the_owners_tablet_pairs_when_the_owner_is_logged_in(dock: Dock) -> None:
    serial = dock.provision("T1", "A100", "Ana Reyes")
    result = dock.dock("T1", ANA)
    assert result.decision.allowed, result.decision
    assert result.peer is not None and result.peer.serial == serial
    assert result.counter == 1
    assert result.channel is not None and result.channel.cipher == "TLS_AES_256_GCM_SHA384"
    entry = dock.registry.get(serial)
    assert entry is not None and entry.last_counter == 1
    assert not result.alerted
    dock.done()
    dock.world.unplug("T1")
    (logged,) = dock.world.sessions["T1"]
    assert logged.startswith("paired with a kiosk")


def test_a_wrong_tablet_is_refused_and_staff_get_an_email(dock: Dock) -> None:
    serial = dock.provision("T2", "B200", "Bo Lind")
    result = dock.dock("T2", ANA)
    refused(result, reasons.ASSIGNED_TO_SOMEONE_ELSE)
    assert result.alerted
    (mail,) = dock.inbox.wait(1)
    body = mail.get_content()
    for text in ("Ana Reyes (A100)", "K-B2-01", serial, "Bo Lind (B200)",
                 reasons.ASSIGNED_TO_SOMEONE_ELSE):
        assert text in body, text


def test_a_tablet_left_plugged_in_alerts_once(dock: Dock) -> None:
    dock.provision("T2", "B200", "Bo Lind")
    results = [dock.dock("T2", ANA) for _ in range(5)]
    assert [r.alerted for r in results] == [True, False, False, False, False]
    assert len(dock.inbox.wait(1, timeout=2)) == 1


def test_nobody_logged_in(dock: Dock) -> None:
    dock.provision("T1", "A100", "Ana Reyes")
    refused(dock.dock("T1", None), reasons.NOBODY_LOGGED_IN)
    assert "nobody logged in" in dock.inbox.wait(1)[0].get_content()


def test_a_clone_replaying_the_counter_is_refused(dock: Dock) -> None:
    dock.provision("T1", "A100", "Ana Reyes")
    directory = dock.world.tablet("T1").directory
    dock.world.plug("T1")
    dock.world.unplug("T1")
    image = directory.parent / "image-of-T1"
    shutil.copytree(directory, image)  # the whole tablet, key included, before it docks
    assert dock.dock("T1", ANA).decision.allowed
    dock.done()
    dock.world.unplug("T1")
    shutil.rmtree(directory)
    shutil.copytree(image, directory)  # the clone: same key, serial and (old) counter
    refused(dock.dock("T1", ANA), reasons.COUNTER_NOT_INCREASING)


def test_a_counter_jump_is_refused_and_alerted_until_staff_vouch_for_the_tablet(
        dock: Dock) -> None:
    """A tablet whose state says it has docked thousands of times more than the
    registry has seen (a forged or transplanted state) is refused with its own
    reason and staff are mailed; once staff have vouched for it (the central
    server raises its counter, and the kiosk's registry follows), it docks."""
    serial = dock.provision("T1", "A100", "Ana Reyes")
    state = dock.world.tablet("T1").directory / "state.json"
    state.write_text(json.dumps({"counter": 5000, "released": False, "used_tokens": []}))
    refused(dock.dock("T1", ANA), reasons.COUNTER_JUMP)
    mail = dock.inbox.wait(1)[0].get_content()
    assert reasons.COUNTER_JUMP in mail and serial in mail
    entry = dock.registry.get(serial)
    assert entry is not None and entry.last_counter == 0  # the jump was not taken
    dock.done()
    dock.world.unplug("T1")
    assert dock.registry.advance_counter(serial, 5001)  # as a round brings the vouched counter
    assert dock.dock("T1", ANA).decision.allowed


def test_a_composite_device_with_a_keyboard_is_refused_before_any_data(dock: Dock) -> None:
    dock.provision("T3", "A100", "Ana Reyes", extras=("keyboard",))
    result = dock.dock("T3", ANA)
    refused(result, reasons.UNEXPECTED_INTERFACES)
    assert dock.world.link("T3").bytes == {"down": 0, "up": 0}
    assert "0x03" in dock.inbox.wait(1)[0].get_content()


def test_a_descriptor_serial_that_differs_from_the_certificate(dock: Dock) -> None:
    dock.provision("T4", "A100", "Ana Reyes", usb_serial="JP5S-777777")
    refused(dock.dock("T4", ANA), reasons.USB_SERIAL_MISMATCH)


def test_a_revoked_tablet(dock: Dock, world: World) -> None:
    serial = dock.provision("T1", "A100", "Ana Reyes")
    assert sallyport(["device", "revoke", "--ca", str(dock.root / "ca"), "--serial",
                      serial]) == 0
    dock.gate.trust = CertificateAuthority.open(dock.root / "ca").trust()  # the kiosk's new CRL
    refused(dock.dock("T1", ANA), reasons.CERTIFICATE_REVOKED)


def test_an_unprovisioned_tablet_cannot_handshake(dock: Dock) -> None:
    dock.world.add_tablet("T9")  # no certificate, no software answering
    dock.gate.handshake_timeout = 0.5
    refused(dock.dock("T9", ANA), reasons.HANDSHAKE_FAILED)


def test_inspect_exports_a_docked_tablets_content(dock: Dock, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    dock.provision("T1", "A100", "Ana Reyes")
    store = TabletDirectory(dock.world.tablet("T1").directory).store()
    store.write("message/m-1", b"See you Sunday")
    store.write("photo/p-1.jpg", b"\xff\xd8 a photo \xff\xd9")
    assert sallyport(["device", "issue", "--ca", str(dock.root / "ca"), "--role",
                      "staff-workstation", "--name", "property room",
                      "--out", str(dock.root / "ws")]) == 0
    dock.world.plug("T1")
    monkeypatch.setenv("SALLYPORT_SIM_WORLD", str(dock.world.directory))
    out = tmp_path / "export"
    assert sallyport(["device", "inspect", "--link", "sim://tablet/T1", "--credentials",
                      str(dock.root / "ws"), "--export", str(out)]) == 0
    import json

    manifest = json.loads((out / "manifest.json").read_text())
    exported = {i["label"]: (out / i["file"]).read_bytes() for i in manifest["items"]}
    assert exported == {"message/m-1": b"See you Sunday",
                        "photo/p-1.jpg": b"\xff\xd8 a photo \xff\xd9"}
    # An empty tablet exports an empty manifest.
    dock.provision("T5", "B200", "Bo Lind")
    dock.world.plug("T5")
    empty = tmp_path / "empty"
    assert sallyport(["device", "inspect", "--link", "sim://tablet/T5", "--credentials",
                      str(dock.root / "ws"), "--export", str(empty)]) == 0
    assert json.loads((empty / "manifest.json").read_text())["items"] == []
    # A kiosk certificate may not inspect.
    assert sallyport(["device", "inspect", "--link", "sim://tablet/T1", "--credentials",
                      str(dock.root / "kiosk")]) != 0


def test_release_tokens(dock: Dock, monkeypatch: pytest.MonkeyPatch,
                        capsys: pytest.CaptureFixture[str]) -> None:
    serial = dock.provision("T1", "A100", "Ana Reyes")
    dock.world.plug("T1")
    monkeypatch.setenv("SALLYPORT_SIM_WORLD", str(dock.world.directory))
    key = str(dock.root / "agency" / "agency-release-key.pem")
    ca = str(dock.root / "ca" / "ca-cert.pem")

    def token(serial: str) -> str:
        capsys.readouterr()
        assert sallyport(["device", "release-token", "--agency-key", key, "--serial", serial,
                          "--agency", "State DOC"]) == 0
        return capsys.readouterr().out.strip()

    def release(text: str) -> tuple[int, str]:
        code = sallyport(["device", "release", "--link", "sim://tablet/T1", "--ca", ca,
                          f"--token={text}"])  # a token may begin with "-"
        return code, capsys.readouterr().err

    code, err = release(token("JP5S-999999"))
    assert code == 1 and reasons.TOKEN_WRONG_SERIAL in err, err
    good = token(serial)
    assert release(good)[0] == 0
    code, err = release(good)
    assert code == 1 and reasons.TOKEN_REUSED in err, err
    from cryptography.hazmat.primitives import serialization

    from device_security.release import make_release_token, token_text

    agency = serialization.load_pem_private_key(Path(key).read_bytes(), password=None)
    old = make_release_token(agency, serial=serial, agency="State DOC",  # type: ignore[arg-type]
                             now=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    code, err = release(token_text(old))
    assert code == 1 and (reasons.TOKEN_EXPIRED in err or reasons.TOKEN_REUSED in err), err


class _CutAfterHandshake:
    """The kiosk's link, pulled out just as the kiosk tells the tablet it is refused."""

    def __init__(self, link: SerialLink) -> None:
        self.link = link
        self.writes = 0

    def read(self, max_bytes: int, timeout: float) -> bytes:
        return self.link.read(max_bytes, timeout)

    def write(self, data: bytes, timeout: float) -> None:
        self.writes += 1
        if self.writes > 2:  # the ClientHello and the client's second flight went through
            raise DeviceGone("unplugged")
        self.link.write(data, timeout)

    def close(self) -> None:
        self.link.close()


def test_a_refused_tablet_pulled_out_at_once_still_alerts(dock: Dock) -> None:
    dock.provision("T2", "B200", "Bo Lind")
    dock.world.plug("T2")
    sys_path = dock.world.status()["tablets"]["T2"]["sys_path"]
    (device,) = [d for d in UdevHotplug([TABLET_ID]).scan() if d.sys_path == sys_path]
    assert device.link_address is not None
    link = open_link(device.link_address)
    stream = _CutAfterHandshake(link)
    result = dock.gate.pair(DockedTablet(device.serial, device.interface_classes, "cut"),
                            lambda: stream, ANA)
    refused(result, reasons.ASSIGNED_TO_SOMEONE_ELSE)
    assert stream.writes > 2  # the refusal was attempted over the dead link
    assert result.alerted and len(dock.inbox.wait(1)) == 1
    assert link.closed
