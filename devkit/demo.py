"""``sallyport demo``: the whole system on simulated hardware, on SQLite.

It starts a staff mailbox (SMTP on loopback), the simulator harness (two
tablets, two dock ports, the badge reader and printer, a network switch in
front of the central server), builds the facility (CA, identities,
provisioned tablets, the demo data; devkit/stage.py), starts the central
server and an HTTPS front that serves its web pages to browsers
(devkit/web_front.py; the staff and family addresses and logins are printed),
and has a family member write with a photo and a videogram. Then:

* with a display (and without ``--walkthrough``), the kiosk's touchscreen, a
  harness panel to plug and unplug the tablets and to open their screens,
  until the kiosk's window is closed;
* without one (or with ``--walkthrough``), Chromium takes a family's message
  through review on the web pages (devkit/web_walk.py; pages saved under
  ``--out``/web), then, on a private Xvfb, the scripted walkthrough
  (devkit/walkthrough.py): log in, read (that message too), reply, buy,
  dock, sync, a wrong tablet refused, and more, each step printed and its
  screen saved under ``--out``.

The exit status is 0 when every step passed; otherwise the failing step is
named.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

TECHNICIAN_PIN = "246810"  # the demo kiosk's maintenance PIN (published, like the demo data)
TECHNICIAN_BADGE = "B-TECH-01"
ROSA = ("rosa.webb@example.org", "demo family password")
MARCUS = "874512"
GARDEN = "Here is the garden this morning, and the kids singing for you."  # the family step's


class DemoStepFailed(Exception):
    pass


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "demo", help="run the whole system on simulated hardware",
        description="Start the central server (SQLite, demo data), the simulated tablets "
        "and kiosk hardware, and the kiosk. With a display: the kiosk's touchscreen and a "
        "panel to plug tablets in, until you close the kiosk. Without one (or with "
        "--walkthrough): a scripted walkthrough on a private Xvfb, each step printed and "
        "its screen saved. Exits non-zero, naming the step, if one fails.")
    parser.add_argument("--walkthrough", action="store_true",
                        help="run the scripted walkthrough even with a display")
    parser.add_argument("--out", type=Path, default=Path("demo-out"),
                        help="where the walkthrough's screenshots go (default demo-out/)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="where the demo's facility and world live (default: a new "
                        "temporary directory, removed at the end)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the demo's directory at the end")
    parser.set_defaults(func=cmd_demo)


def _sallyport(*args: str) -> list[str]:
    return [sys.executable, "-m", "sallyport", *args]


def cmd_demo(args: argparse.Namespace) -> int:
    root = args.dir or Path(tempfile.mkdtemp(prefix="sallyport-demo-"))
    interactive = bool(os.environ.get("DISPLAY")) and not args.walkthrough
    with contextlib.ExitStack() as stack:
        run = Run(root, stack)
        try:
            run.step("start the staff mailbox (alerts are mailed to it)", run.mailbox)
            run.step("start the simulator harness: 2 tablets, 2 dock ports, a badge reader, "
                     "a printer, a network switch", run.harness)
            run.step("build the facility: CA, identities, provisioned tablets, demo data",
                     run.facility)
            run.step("start the central server (HTTPS on loopback, SQLite)", run.central)
            run.step("open the web pages to browsers: an HTTPS front before the server",
                     run.web_front)
            run.step("Rosa Webb writes to Marcus, with a photo and a videogram", run.family)
            run.step("the agency publishes tablet firmware 2 and rolls it out to unit CC-A",
                     run.firmware)
            if interactive:
                run.step("the kiosk and the harness panel (close the kiosk to end)",
                         run.interactive)
            else:
                shutil.rmtree(args.out, ignore_errors=True)
                run.step(f"in Chromium: Rosa writes on the family pages, the demo reviewer "
                         f"delivers it (pages saved in {args.out / 'web'}/)",
                         lambda: run.web_walk(args.out / "web"))
                run.step(f"the walkthrough at the kiosk (screens saved in {args.out}/)",
                         lambda: run.walkthrough(args.out))
                run.step("the firmware census: what the tablets said at their docks",
                         run.census)
        except DemoStepFailed as e:
            print(f"demo: {e}", file=sys.stderr)
            return 1
        finally:
            stack.close()
            if args.dir is None and not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    print("demo: every step passed")
    if args.keep or args.dir is not None:
        print(f"demo: its facility and world are in {root}")
    return 0


class Run:
    """The demo's parts, started in order and stopped in reverse by ``stack``."""

    def __init__(self, root: Path, stack: contextlib.ExitStack) -> None:
        self.root = root
        self.stack = stack
        self.number = 0
        self.world = root / "world"
        self.mail_dir = root / "mail"
        self.status: dict[str, Any] = {}
        self.stage: Any = None
        self.front: Any = None  # devkit.web_front.WebFront, once started
        self.census_before: list[dict[str, Any]] = []

    def step(self, title: str, action: Callable[[], str]) -> None:
        self.number += 1
        print(f"[{self.number}] {title} ...", flush=True)
        try:
            detail = action()
        except DemoStepFailed as e:
            raise DemoStepFailed(f"step {self.number} ({title}) failed: {e}") from e
        except Exception as e:
            raise DemoStepFailed(f"step {self.number} ({title}) failed: "
                                 f"{type(e).__name__}: {e}") from e
        for line in detail.rstrip().splitlines():
            print(f"    {line}")
        print(f"[{self.number}] ok", flush=True)

    def mailbox(self) -> str:
        from simulators.mailbox import StaffMailbox

        self.box = self.stack.enter_context(StaffMailbox(self.mail_dir))
        return f"SMTP on 127.0.0.1:{self.box.port}; messages land in {self.mail_dir}"

    def harness(self) -> str:
        from simulators.harness import shut_down, spawn
        from simulators.ports import free_port

        self.central_port = free_port()
        client = spawn(self.world, tablets=2, ports=2, central=f"127.0.0.1:{self.central_port}")
        self.stack.callback(lambda: _quietly(lambda: shut_down(self.world)))
        self.client = client
        self.status = client.call("status")
        return "\n".join(f"{name}: serial {t['serial']}" for name, t in
                         sorted(self.status["tablets"].items()))

    def facility(self) -> str:
        from argon2 import PasswordHasher

        from central.seed import RESIDENTS
        from devkit.stage import StageTablet, prepare
        from simulators.trust_account import TrustAccountSimulator

        trust = TrustAccountSimulator(self.root / "trust-accounts.db")
        for agency_id, *_ in RESIDENTS:
            trust.set_balance(agency_id, 5000)
        trust.start()
        self.stack.callback(trust.stop)

        tablets = [StageTablet(self.world / "tablets" / name, t["serial"])
                   for name, t in sorted(self.status["tablets"].items())]
        network = self.status["network"]
        self.stage = prepare(
            self.root / "facility", tablets, central_port=self.central_port,
            smtp=("127.0.0.1", self.box.port), round_interval_s=1.0,
            password_cost="low",  # noqa: S106 - a hashing cost, for a quick demo
            hw={"settle": 0.2, "poll_interval": 0.5},
            kiosk={"technician_pin_hash": PasswordHasher().hash(TECHNICIAN_PIN),
                   "technician_badges": [TECHNICIAN_BADGE],
                   "badge_reader": f"serial://{self.status['badge_reader']}",
                   "printer": f"serial://{self.status['printer']}",
                   "usb_stick": self.status["usb_stick"]},
            kiosk_central_url=f"https://127.0.0.1:{network['port']}",
            trust_account_url=trust.url)
        return (f"kiosk configuration {self.stage.kiosk_config}\n"
                f"the agency's trust-account system (simulated) at {trust.url}\n"
                f"the kiosk reaches the server through the switch on port {network['port']}\n"
                f"technician PIN {TECHNICIAN_PIN}; resident 874512 (Marcus Webb), first PIN "
                f"482916")

    def central(self) -> str:
        from devkit.stage import CentralProcess

        process = CentralProcess(self.stage)
        process.start()
        self.stack.callback(process.stop)
        return f"{self.stage.central_url} (log {process.log_path})"

    def family(self) -> str:
        import requests

        from simulators.media import mp4_videogram, png

        videogram = mp4_videogram(self.root / "videogram.mp4", 3).read_bytes()
        with requests.Session() as http:
            http.trust_env = False
            http.verify = str(self.stage.ca_certificate)
            url = self.stage.central_url

            def post(path: str, **kw: Any) -> Any:
                answer = http.post(url + path, timeout=30, **kw)
                if answer.status_code >= 300:
                    raise DemoStepFailed(f"{path}: {answer.status_code} {answer.text[:200]}")
                return answer.json()

            token = post("/v1/family/sessions", json={"email": ROSA[0], "password": ROSA[1]})
            http.headers["Authorization"] = f"Bearer {token['token']}"
            photo = post("/v1/family/blobs", data=png(640, 480),
                         headers={"Content-Type": "image/png"})["sha256"]
            video = post("/v1/family/blobs", data=videogram,
                         headers={"Content-Type": "video/mp4"})["sha256"]
            post("/v1/family/messages", json={
                "uid": uuid.uuid4().hex, "resident_agency_id": MARCUS,
                "body": GARDEN,
                "attachments": [{"kind": "photo", "sha256": photo},
                                {"kind": "videogram", "sha256": video}]})
        return "a photo (640x480 PNG) and a 3 s videogram (H.264/AAC)"

    def firmware(self) -> str:
        """Sign image 2 into the agency's repository, publish it with
        ``sallyport firmware publish`` and stage it for unit CC-A."""
        from devkit.firmware import target_name

        firmware = self.stage.firmware
        entry = firmware.add(2, "demo-2")
        admin = self._staff("demo-agency")
        done = subprocess.run(_sallyport(
            "firmware", "publish", str(firmware.repository.path), "--server",
            self.stage.central_url, f"--token={admin.headers['Authorization'][7:]}", "--ca",
            str(self.stage.ca_certificate)), capture_output=True, text=True, timeout=300,
            check=False)
        if done.returncode != 0:
            raise DemoStepFailed(f"sallyport firmware publish: {done.stderr.strip()}")
        answer = admin.post(f"{self.stage.central_url}/v1/staff/firmware/rollouts", timeout=30,
                            json={"image": target_name(2), "facility_id": "CC",
                                  "unit_id": "CC-A", "percent": 100})
        if answer.status_code != 201:
            raise DemoStepFailed(f"rollout: {answer.status_code} {answer.text[:200]}")
        admin.close()
        self.census_before = self._census()
        return (f"{done.stdout.strip()}\n"
                f"{entry.name}: {entry.length} bytes, sha256 {entry.sha256[:16]}..., "
                f"staged for every tablet of unit CC-A\n"
                f"the tablets run {target_name(1)} (slot a) until they dock; census now:\n"
                + _census_lines(self.census_before))

    def census(self) -> str:
        after = self._census()
        if not any(row["version"] == 2 and row["event"] == "marked_good" for row in after):
            raise DemoStepFailed("no tablet reported firmware 2 marked good:\n"
                                 + _census_lines(after))
        return ("before the walkthrough:\n" + _census_lines(self.census_before)
                + "\nafter it (a technician's `sallyport firmware status --server ...`):\n"
                + _census_lines(after))

    def _census(self) -> list[dict[str, Any]]:
        technician = self._staff("demo-technician")
        try:
            answer = technician.get(f"{self.stage.central_url}/v1/staff/firmware/census",
                                    timeout=30)
        finally:
            technician.close()
        if answer.status_code != 200:
            raise DemoStepFailed(f"census: {answer.status_code} {answer.text[:200]}")
        rows: list[dict[str, Any]] = answer.json()
        return rows

    def _staff(self, username: str) -> Any:
        """A requests session logged in as a demo staff member."""
        import requests

        from central.seed import DEMO_STAFF_PASSWORD

        http = requests.Session()
        http.trust_env = False
        http.verify = str(self.stage.ca_certificate)
        answer = http.post(f"{self.stage.central_url}/v1/staff/sessions", timeout=30,
                           json={"username": username, "password": DEMO_STAFF_PASSWORD})
        if answer.status_code >= 300:
            http.close()
            raise DemoStepFailed(f"{username} cannot log in: {answer.status_code}")
        http.headers["Authorization"] = f"Bearer {answer.json()['token']}"
        return http

    def web_front(self) -> str:
        from central.seed import DEMO_FAMILY_PASSWORD, DEMO_STAFF_PASSWORD, FAMILIES
        from central.services.accounts import STAFF_ROLES
        from devkit.web_front import WebFront

        front = WebFront(self.root / "web-front", ("127.0.0.1", self.central_port),
                         self.stage.ca_certificate)
        front.start()
        self.stack.callback(front.stop)
        self.front = front
        staff = ", ".join([f"demo-{role}" for role in STAFF_ROLES] + ["demo-agency"])
        families = ", ".join(email for email, *_ in FAMILIES)
        return (f"staff (the Facility System): {front.url}/staff/login\n"
                f"    as {staff}; password \"{DEMO_STAFF_PASSWORD}\"\n"
                f"families: {front.url}/family/login\n"
                f"    as {families}; password \"{DEMO_FAMILY_PASSWORD}\"\n"
                f"the front's certificate (self-signed, P-256): {front.certificate}\n"
                f"    browsers take no Ed25519 server certificate, so the front carries each\n"
                f"    connection on to {self.stage.central_url}; trust the certificate by its\n"
                f"    key, e.g. chromium --ignore-certificate-errors-spki-list={front.pin}")

    def web_walk(self, out: Path) -> str:
        from central.seed import DEMO_FAMILY_PASSWORD, DEMO_STAFF_PASSWORD
        from devkit.web_walk import walk
        from simulators.media import png

        photo = self.root / "porch.png"
        photo.write_bytes(png(800, 600))
        saved = walk(self.front.url, self.front.pin, out, photo,
                     staff_login=("demo-reviewer", DEMO_STAFF_PASSWORD),
                     family_login=(ROSA[0], DEMO_FAMILY_PASSWORD),
                     say=lambda line: print(f"    ok    {line}", flush=True))
        return f"{len(saved)} pages saved: {', '.join(saved)}"

    def _in_world(self, *command: str) -> list[str]:
        return _sallyport("sim", "--world", str(self.world), "exec", "--", *command)

    def walkthrough(self, out: Path) -> str:
        from simulators.display import display

        command = self._in_world(sys.executable, "-m", "devkit.walkthrough", "--config",
                                 str(self.stage.kiosk_config), "--world", str(self.world),
                                 "--out", str(out), "--mailbox", str(self.mail_dir))
        with display() as name:  # a private Xvfb: never the person's own screen
            process = subprocess.Popen(command, env={**os.environ, "DISPLAY": name},
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True)
            assert process.stdout is not None
            failed: list[str] = []
            for line in process.stdout:
                if line.startswith(("ok ", "FAIL", "firmware: ")):
                    print(f"    {line.rstrip()}", flush=True)
                    if line.startswith("FAIL"):
                        failed.append(line[4:].strip())
                elif failed:
                    print(f"      {line.rstrip()}", flush=True)  # why it failed
            status = process.wait()
        if status or failed:
            raise DemoStepFailed(f"the walkthrough failed at: {failed[0] if failed else status}")
        shots = sorted(p.name for p in out.glob("*.png"))
        return f"{len(shots)} screens saved: {', '.join(shots)}"

    def interactive(self) -> str:
        kiosk = subprocess.Popen(self._in_world(*_sallyport("kiosk", "run", "--config",
                                                            str(self.stage.kiosk_config))))
        panel = subprocess.Popen(_sallyport("sim", "--world", str(self.world), "panel"))
        self.stack.callback(lambda: _end(panel))
        print("    the kiosk is up: log in as 874512 with PIN 482916; plug tablets in from "
              "the panel", flush=True)
        try:
            status = kiosk.wait()
        except KeyboardInterrupt:
            _end(kiosk)
            status = 0
        return f"the kiosk ended ({status})"


def _census_lines(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "    no device has reported yet"
    return "\n".join(f"    {r['devices']} {r['kind']}(s) {r['model']} version {r['version']} "
                     f"in slot {r['slot']}, {r['event'].replace('_', ' ')}" for r in rows)


def _end(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def _quietly(action: Callable[[], object]) -> None:
    with contextlib.suppress(Exception):
        action()
