"""Parts of the kiosk that need no central server: the technician's PIN and
badge (the maintenance part, built alone), who accepted the terms, systemd's
watchdog, and videograms played by real libvlc into memory."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from argon2 import PasswordHasher

from device_security.alerts import AlertQueue
from hw.records import DockedDevice
from kiosk.central_client import CentralClient, KioskCredentials
from kiosk.config import KioskConfig, SyncConfig
from kiosk.events import Event
from kiosk.lockout import TRIES, LockoutFile
from kiosk.maintenance import Maintenance
from kiosk.records import AgencyPolicy
from kiosk.service_state import ServiceState
from kiosk.terms import TEXT, TermsLedger, Unsent, digest, render
from kiosk.videogram import HEIGHT, OPTIONS, WIDTH, VideogramPlayer
from kiosk.watchdog import Watchdog
from simulators.media import mp4_videogram
from tests.sync.rig import open_cache


def maintenance_part(tmp_path: Path, kiosk: KioskConfig | None = None,
                     config_path: Path | None = None, sync: SyncConfig | None = None,
                     events: list[Event] | None = None) -> Maintenance:
    """The maintenance part alone: a cache, an alert queue and a dock that
    watches nothing, a client of a server that is not there."""
    kiosk = kiosk or KioskConfig(location_code="CC-A-DAYROOM", unit="CC-A",
                                 state_dir=str(tmp_path),
                                 technician_pin_hash=PasswordHasher().hash("246810"),
                                 technician_badges=("B-TECH-01",))
    sync = sync or SyncConfig(cache_dir=str(tmp_path / "cache"))
    cache = open_cache(tmp_path / "cache")
    alerts = AlertQueue(tmp_path / "alerts.db")
    client = CentralClient("https://127.0.0.1:9", KioskCredentials_for(tmp_path), attempts=1)
    return Maintenance(kiosk, sync, client=client, cache=cache, dock=IdleDock(), alerts=alerts,
                       service=ServiceState(tmp_path / "service.json"),
                       lockout=LockoutFile(tmp_path / "lockout.json"),
                       emit=(events.append if events is not None else lambda e: None),
                       round_now=lambda: None, config_path=config_path)


def KioskCredentials_for(tmp_path: Path) -> KioskCredentials:
    return KioskCredentials(tmp_path / "none.pem", tmp_path / "none.key", tmp_path / "ca.pem")


class IdleDock:
    """The dock of a kiosk before its first round: watching nothing yet."""

    watching = False
    last_dock = None

    def ports(self) -> list[DockedDevice]:
        return []


def test_the_technician_pin_opens_the_menu_until_too_many_wrong_ones(tmp_path: Path) -> None:
    menu = maintenance_part(tmp_path)
    assert menu.technician_pin_ok("246810")
    assert not menu.technician_pin_ok("")
    for _ in range(TRIES):
        assert not menu.technician_pin_ok("000000")
    assert not menu.technician_pin_ok("246810")  # locked for a while now
    assert menu.technician_badge_ok("B-TECH-01")  # a badge still opens it
    assert not menu.technician_badge_ok("B-RESIDENT-7")


def test_the_pin_lockout_outlives_a_restart(tmp_path: Path) -> None:
    menu = maintenance_part(tmp_path)
    for _ in range(TRIES):
        assert not menu.technician_pin_ok("000000")
    restarted = maintenance_part(tmp_path)  # a new process reads the same state directory
    assert not restarted.technician_pin_ok("246810")
    (tmp_path / "lockout.json").write_text("damaged")
    assert not maintenance_part(tmp_path).technician_pin_ok("246810")  # damage stays locked


def test_a_kiosk_without_a_technician_pin_opens_to_none(tmp_path: Path) -> None:
    kiosk = KioskConfig(location_code="L", unit="U", state_dir=str(tmp_path))
    assert not maintenance_part(tmp_path, kiosk).technician_pin_ok("246810")


def test_terms_are_accepted_per_resident_and_text(tmp_path: Path) -> None:
    ledger = TermsLedger(tmp_path / "terms.json")
    text = render("en", AgencyPolicy())
    assert not ledger.accepted("874512", digest(text))
    ledger.accept("874512", digest(text))
    assert ledger.accepted("874512", digest(text)) and not ledger.accepted("903377",
                                                                           digest(text))
    changed = render("en", AgencyPolicy(refund_window_days=30))
    assert not TermsLedger(tmp_path / "terms.json").accepted("874512", digest(changed))
    (tmp_path / "terms.json").write_text("not json")
    assert not ledger.accepted("874512", digest(text))  # damage asks again, never skips them
    assert set(TEXT) == {"en", "es"} and all(len(t) > 500 for t in TEXT.values())


def test_the_terms_say_the_agencys_numbers() -> None:
    policy = AgencyPolicy(refund_window_days=21, tablet_lock_days=9, ticket_resolution_days=30)
    for language, words in (("en", ("21 days", "9 days", "30 days")),
                            ("es", ("21 días", "9 días", "30 días"))):
        text = render(language, policy)
        assert all(w in text for w in words), (language, text)
        assert "{" not in text and "14" not in text
    assert render("fr", policy) == render("en", policy)


def test_acceptances_kept_while_the_server_is_away_wait_to_be_sent(tmp_path: Path) -> None:
    ledger = TermsLedger(tmp_path / "terms.json")
    text = render("es", AgencyPolicy())
    ledger.accept("874512", digest(text), unsent=Unsent("874512", digest(text), "es", text))
    assert [u.sha256 for u in ledger.unsent("874512")] == [digest(text)]
    ledger.learn("874512", (digest(text),))  # the server has it now
    assert ledger.unsent("874512") == [] and ledger.accepted("874512", digest(text))


def test_the_watchdog_tells_systemd_ready_then_alive(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as systemd:
        systemd.bind(str(path))
        systemd.settimeout(5)
        dog = Watchdog(str(path), interval_s=0.0)
        dog.ready()
        assert systemd.recv(64) == b"READY=1"
        dog.alive()
        assert systemd.recv(64) == b"WATCHDOG=1"
    Watchdog(None, 1.0).alive()  # without systemd, nothing happens and nothing fails
    os.environ.pop("NOTIFY_SOCKET", None)
    assert Watchdog.from_environment().address is None


def test_a_videogram_plays_into_memory_to_its_end(tmp_path: Path) -> None:
    data = mp4_videogram(tmp_path / "videogram.mp4", 2).read_bytes()
    player = VideogramPlayer((*OPTIONS, "--aout=dummy"))
    try:
        player.play(data)  # from memory: the cache keeps videograms sealed
        opened = {os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                  if os.path.islink(f"/proc/self/fd/{fd}")}
        assert any(name.startswith("/memfd:videogram") for name in opened)
        frames: list[bytes] = []
        deadline = time.monotonic() + 20
        while player.state() != "ended" and time.monotonic() < deadline:
            frame = player.frame()
            if frame is not None:
                frames.append(frame)
            time.sleep(0.03)
        assert player.state() == "ended"
        assert len(frames) >= 10 and all(len(f) == WIDTH * HEIGHT * 4 for f in frames)
        assert len({f[:WIDTH * HEIGHT] for f in frames}) > 1  # the picture moves
        player.frame()  # the last frame, if it came after the last look
        assert player.frame() is None  # nothing newer than the last one asked for
        player.play(b"not a video" * 100)
        deadline = time.monotonic() + 20
        while player.state() in ("playing", "idle") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert player.state() == "error"  # said so, never a hang
    finally:
        player.close()


def test_a_technicians_configuration_change_is_checked_then_kept(tmp_path: Path) -> None:
    from kiosk.cli import load

    path = tmp_path / "kiosk.toml"
    path.write_text('[kiosk]\nlocation_code = "CC-A-DAYROOM"\nunit = "CC-A"\n'
                    f'state_dir = "{tmp_path}"\n\n[sync]\ncentral_url = "https://127.0.0.1:9"\n'
                    '\n[hw]\n')
    kiosk, sync, _ = load(path)
    menu = maintenance_part(tmp_path, kiosk, config_path=path, sync=sync)
    before = path.read_text()
    bad = menu.save_configuration(location_code="CC-A-DAYROOM", unit="CC-A",
                                  central_url="ftp://nowhere")
    assert not bad.ok and "central_url" in bad.message
    plain = menu.save_configuration(location_code="CC-A-DAYROOM", unit="CC-A",
                                    central_url="http://central.example:8443")
    assert not plain.ok and "https" in plain.message  # no plain HTTP, even to change it
    assert not menu.save_configuration(location_code="CC-A-DAYROOM", unit="U" * 65,
                                       central_url="https://central.example").ok
    assert not menu.save_configuration(location_code=" ", unit="CC-A",
                                       central_url="https://central.example").ok
    assert path.read_text() == before  # nothing written for a change that cannot work
    assert menu.save_configuration(location_code="CC-B-DAYROOM", unit="CC-B",
                                   central_url="https://central.example:8443").ok
    kiosk, sync, _ = load(path)
    assert (kiosk.location_code, kiosk.unit, sync.central_url) == (
        "CC-B-DAYROOM", "CC-B", "https://central.example:8443")
    assert kiosk.state_dir == str(tmp_path)  # the rest of the file as it was
