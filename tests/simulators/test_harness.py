"""The harness as a developer drives it: ``sallyport sim ...`` in a shell."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hw.serial_link import open_link, resolve_address
from simulators.control import ControlClient

pytestmark = pytest.mark.udev


def sallyport(world: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "UMOCKDEV_DIR"}
    result = subprocess.run([sys.executable, "-m", "sallyport", "sim", "--world", str(world),
                             *args], capture_output=True, text=True, timeout=60, env=env,
                            check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"sallyport sim {' '.join(args)} failed:\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    world = tmp_path_factory.mktemp("harness") / "world"
    up = sallyport(world, "up", "--tablets", "3", "--ports", "3")
    assert "T3" in up.stdout
    try:
        yield world
    finally:
        sallyport(world, "down", check=False)
        deadline = time.monotonic() + 10
        while (world / "control.sock").exists() and time.monotonic() < deadline:
            time.sleep(0.1)


def status(world: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(sallyport(world, "status", "--json").stdout)
    return result


def hw_list(world: Path) -> list[dict[str, Any]]:
    out = sallyport(world, "exec", "--", sys.executable, "-m", "sallyport", "hw", "list",
                    "--json").stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_plug_shows_in_hw_list_and_unplug_removes_it(harness: Path) -> None:
    assert hw_list(harness) == []
    plugged = sallyport(harness, "plug", "T2", "3")
    assert "into port 3" in plugged.stdout
    (row,) = hw_list(harness)
    t2 = status(harness)["tablets"]["T2"]
    assert row["serial"] == row["descriptor_serial"] == t2["serial"]
    assert row["tty"] == t2["kiosk_tty"]
    assert row["interface_classes"] == ["cdc-comm", "cdc-data"]
    sallyport(harness, "unplug", "T2")
    assert hw_list(harness) == []


def test_hw_watch_sees_arrival_and_departure(harness: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "UMOCKDEV_DIR"}
    watcher = subprocess.Popen(
        [sys.executable, "-m", "sallyport", "sim", "--world", str(harness), "exec", "--",
         sys.executable, "-m", "sallyport", "hw", "watch", "--json", "--seconds", "6"],
        stdout=subprocess.PIPE, text=True, env=env)
    time.sleep(1.5)
    sallyport(harness, "plug", "T1")
    time.sleep(0.5)
    sallyport(harness, "unplug", "T1")
    out, _ = watcher.communicate(timeout=20)
    events = [(e["event"], e["serial"]) for e in map(json.loads, out.splitlines())]
    serial = status(harness)["tablets"]["T1"]["serial"]
    assert events == [("arrived", serial), ("left", serial)]


def test_sim_addresses_reach_both_ends(harness: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALLYPORT_SIM_WORLD", str(harness))
    sallyport(harness, "plug", "T3")
    try:
        assert resolve_address("sim://tablet/T3") == status(harness)["tablets"]["T3"]["kiosk_tty"]
        with open_link("sim://tablet/T3") as kiosk, open_link("sim://tablet/T3/gadget") as tab:
            kiosk.write(b"over the sim link", timeout=1)
            assert tab.read_exactly(17, timeout=2) == b"over the sim link"
    finally:
        sallyport(harness, "unplug", "T3")
    with pytest.raises(Exception, match="not plugged"):
        resolve_address("sim://tablet/T3")
    with pytest.raises(Exception, match="no tablet"):
        resolve_address("sim://tablet/T9")


def test_fault_from_the_command_line(harness: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALLYPORT_SIM_WORLD", str(harness))
    sallyport(harness, "plug", "T1")
    sallyport(harness, "fault", "T1", "--direction", "down", "--corrupt-at", "0")
    with open_link("sim://tablet/T1") as kiosk, open_link("sim://tablet/T1/gadget") as tablet:
        kiosk.write(b"\x00", timeout=1)
        assert tablet.read_exactly(1, timeout=2) == b"\xff"
    sallyport(harness, "unplug", "T1")


def test_the_usb_stick_is_pulled_out_and_put_back_from_the_command_line(
        harness: Path) -> None:
    stick = Path(status(harness)["usb_stick"])
    (stick / "notes.txt").write_bytes(b"on the stick")
    assert sallyport(harness, "stick", "out").stdout.strip() == "the USB stick is pulled out"
    assert not stick.exists() and status(harness)["usb_stick_in"] is False
    sallyport(harness, "stick", "out")  # out already: nothing happens
    sallyport(harness, "stick", "in")
    assert status(harness)["usb_stick_in"] is True
    assert (stick / "notes.txt").read_bytes() == b"on the stick"  # it kept what it held
    assert sallyport(harness, "stick", "sideways", check=False).returncode != 0
    (stick / "notes.txt").unlink()


def test_scenario_runs_and_reports_failures(harness: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text('[[step]]\nplug = "T1"\n[[step]]\nplug = "T2"\n[[step]]\nwait = 0.1\n'
                    '[[step]]\nexpect_plugged = ["T1", "T2"]\n[[step]]\nunplug = "T1"\n'
                    '[[step]]\nexpect_plugged = ["T2"]\n[[step]]\nunplug = "T2"\n')
    ran = sallyport(harness, "run", str(good))
    assert "7 steps done" in ran.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[[step]]\nunplug = "T1"\n')
    failed = sallyport(harness, "run", str(bad), check=False)
    assert failed.returncode == 2
    assert "step 1 (unplug T1) failed: T1 is not plugged in" in failed.stderr


def test_bad_requests_get_errors_and_the_harness_lives(harness: Path) -> None:
    control = str(harness / "control.sock")
    for garbage in (b"not json\n", b"[1,2]\n", b'{"op": 5}\n', b'{"op": "plug"}\n',
                    b'{"op": "plug", "tablet": "T1", "port": "x"}\n',
                    b'{"op": "fault", "tablet": "T1", "drop_at": -4}\n',
                    b'{"op": "stick", "state": "half"}\n',
                    b'{"op": "explode"}\n', b"\xff\xfe\n"):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(control)
            sock.sendall(garbage)
            reply = json.loads(sock.makefile("rb").readline())
        assert reply["ok"] is False and reply["error"], garbage
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(control)
        sock.sendall(b"x" * (70 * 1024) + b"\n")
        assert "longer than" in json.loads(sock.makefile("rb").readline())["error"]
    assert ControlClient(Path(control)).call("status")["ports"] == 3


def test_plain_mistakes_have_plain_messages(harness: Path, tmp_path: Path) -> None:
    assert "no tablet 'T7'" in sallyport(harness, "plug", "T7", check=False).stderr
    assert "port must be 1-3" in sallyport(harness, "plug", "T1", "9", check=False).stderr
    nowhere = sallyport(tmp_path / "none", "status", check=False)
    assert nowhere.returncode == 2 and "sallyport sim up" in nowhere.stderr


def test_the_panel_opens_on_the_running_harness(harness: Path) -> None:
    from simulators.display import display

    env = {k: v for k, v in os.environ.items() if k != "UMOCKDEV_DIR"}
    with display() as name:
        panel = subprocess.Popen([sys.executable, "-m", "sallyport", "sim", "--world",
                                  str(harness), "panel"], env={**env, "DISPLAY": name},
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(4)  # its window is up and it has asked the harness for the tablets
            assert panel.poll() is None, panel.communicate()[0]
        finally:
            panel.terminate()
            output = panel.communicate(timeout=10)[0]
    assert "panel.py" not in output, output  # no error of its own (Kivy logs some of its)
