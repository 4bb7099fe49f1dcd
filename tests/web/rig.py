"""The web pages' test rig: the central server as a real process on
loopback (``sallyport central serve``), Playwright driving Debian's Chromium
(never a downloaded browser), and axe-core run on every page visited.

Also used by scripts/web_screenshots.py and the web benchmark; imports no
pytest.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from central.translation import ReviewTranslator
from tests.central.facility import Facility, build

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
AXE = Path(__file__).parent / "axe" / "axe-4.14.1.min.js"
FAMILY_PASSWORD = "family password 1"
# What stops the browser talking to anything but the server under test.
QUIET = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-default-apps", "--no-first-run", "--no-pings",
         "--disable-domain-reliability", "--disable-client-side-phishing-detection",
         "--metrics-recording-only", "--disable-breakpad",
         "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class WebServer:
    """``sallyport central serve`` on http://127.0.0.1:<port>, in its own
    process, over a database the test also reaches (``facility``: the
    agency, facility and staff of tests/central/facility.py)."""

    def __init__(self, database_url: str, state: Path) -> None:
        self.state = state
        self.database_url = database_url
        self.facility: Facility | None = None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        # The server's own translator, as the server process has: a message held
        # here keeps the translation made when it is held (central/services/review.py).
        self.facility = build(self.database_url, self.state,
                              translator=ReviewTranslator(working_language="en"))
        env = {**os.environ,
               "SALLYPORT_CENTRAL_STATE_DIR": str(self.state),
               "SALLYPORT_CENTRAL_DATABASE_URL": self.database_url,
               "SALLYPORT_CENTRAL_HOST": "127.0.0.1",
               "SALLYPORT_CENTRAL_PORT": str(self.port),
               "SALLYPORT_CENTRAL_CARD_PROCESSOR": "sandbox",
               "SALLYPORT_CENTRAL_PASSWORD_COST": "low"}
        with (self.state / "server.log").open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "sallyport", "central", "serve"], env=env, cwd=ROOT,
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log_tail()}")
            try:
                if requests.get(self.url + "/v1/health", timeout=2).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"the server did not answer in {timeout} s: {self.log_tail()}")

    def log_tail(self) -> str:
        return "\n".join((self.state / "server.log").read_text(errors="replace")
                         .splitlines()[-30:])

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        if self.facility is not None:
            self.facility.central.db.dispose()

    def __enter__(self) -> WebServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def chromium_major() -> int:
    """The major version of Debian's chromium."""
    out = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, check=True,
                         timeout=60).stdout
    match = re.search(r"Chromium (\d+)\.", out)
    if match is None:
        raise RuntimeError(f"cannot read chromium's version from {out!r}")
    return int(match.group(1))


def playwright_chromium_major() -> int:
    """The major version of the Chromium this Playwright release was made for."""
    import playwright
    browsers = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    for browser in json.loads(browsers.read_text())["browsers"]:
        if browser["name"] == "chromium":
            return int(browser["browserVersion"].split(".")[0])
    raise RuntimeError(f"no chromium in {browsers}")


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright."""
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=QUIET,
                                    env=browser_environment(os.environ))
        try:
            yield browser
        finally:
            browser.close()


def browser_environment(env: Mapping[str, str]) -> dict[str, str | float | bool]:
    """``env`` without umockdev's preload library (the test suite runs under
    it): under it, a Chromium now and then hangs on its first page."""
    kept: dict[str, str | float | bool] = {
        k: v for k, v in env.items() if k not in ("LD_PRELOAD", "UMOCKDEV_DIR")}
    preload = [p for p in env.get("LD_PRELOAD", "").split(":")
               if p and "libumockdev-preload" not in p]
    if preload:
        kept["LD_PRELOAD"] = ":".join(preload)
    return kept


class AxeViolations(AssertionError):
    pass


def check_accessible(page: Any) -> list[dict[str, Any]]:
    """Run axe-core on the page; raise AxeViolations for any serious or
    critical violation. Returns the lesser ones."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # through the debugger: the page's CSP allows no inline script
        page.evaluate(AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, "
                           "{resultTypes: ['violations']})")
    bad = [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]
    if bad:
        lines = [f"{v['id']} ({v['impact']}): {v['help']} at "
                 f"{[n['target'] for n in v['nodes']][:3]}" for v in bad]
        raise AxeViolations(f"{page.url}: " + "; ".join(lines))
    return list(result["violations"])
