"""`make demo` on a machine without a display: the whole system on simulated
hardware (central server, kiosk app under Xvfb, simulated tablets, staff
mailbox), and the scripted walkthrough passes every step, saving a screen
for each; before it, Chromium takes a family's message through review on the
web pages, saving each page."""

import base64
import concurrent.futures
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devkit.web_walk import SHOTS as WEB_PAGES
from tests.web.rig import chromium

pytestmark = pytest.mark.udev

SCREENS = ("attract", "login", "pin", "terms", "home", "inbox", "conversation", "photo",
           "videogram", "conversation-web", "photo-web", "compose", "store", "store-confirm",
           "store-purchases", "account",
           "help", "help-new", "dock", "dock-done", "dock-refused", "home-large-contrast",
           "home-es", "inbox-offline", "maintenance-locked", "maintenance",
           "maintenance-alerts", "maintenance-tablets", "maintenance-config")


def test_the_demo_walkthrough_passes_every_step(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("UMOCKDEV_DIR", "DISPLAY")}
    out = tmp_path / "demo-out"
    result = subprocess.run([sys.executable, "-m", "sallyport", "demo", "--dir",
                             str(tmp_path / "demo"), "--out", str(out)], capture_output=True,
                            text=True, timeout=600, env=env, check=False)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "demo: every step passed" in result.stdout
    assert "FAIL" not in result.stdout
    for name in SCREENS:
        assert (out / f"{name}.png").read_bytes().startswith(b"\x89PNG"), name
    # The web walk's steps each passed, and each page it saw is a picture of a page.
    assert "ok    Rosa's messages page says it was delivered" in result.stdout
    assert "ok    the message Rosa wrote on the web pages, delivered after review" \
        in result.stdout
    pictures = [out / f"{name}.png" for name in SCREENS] + \
        [out / "web" / f"{name}.png" for name in WEB_PAGES]
    assert not (out / "web" / "failed.png").exists()
    for path, (colours, commonest) in zip(pictures, _colours(pictures), strict=True):
        assert colours >= 8 and commonest < 0.97, (path.name, colours, commonest)
    # Every screen saved was measured in both themes (devkit/accessibility.py): each
    # text's contrast (WCAG 2.1 AA) and each touch target (9 mm on the 98 dpi panel).
    report = json.loads((out / "accessibility.json").read_text())
    assert round(report["dpi"], 1) == 98.0
    assert [f["text"] for f in report["failures"]] == []
    measured = {(m["screen"], m["theme"]) for m in report["measured"]}
    assert measured >= {(s, theme) for s in SCREENS for theme in ("normal", "high contrast")}


# How many colours a picture has, and the share of its pixels in the commonest,
# counted by Chromium's own PNG decoder on a canvas.
COUNT_COLOURS = """async (url) => {
  const picture = new Image();
  picture.src = url;
  await picture.decode();
  const canvas = new OffscreenCanvas(picture.naturalWidth, picture.naturalHeight);
  const pen = canvas.getContext("2d");
  pen.drawImage(picture, 0, 0);
  const data = pen.getImageData(0, 0, canvas.width, canvas.height).data;
  const counts = new Map();
  let most = 0;
  for (let i = 0; i < data.length; i += 4) {
    const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    const n = (counts.get(key) || 0) + 1;
    counts.set(key, n);
    if (n > most) most = n;
  }
  return [counts.size, most / (data.length / 4)];
}"""


def _colours(paths: list[Path]) -> list[tuple[int, float]]:
    # On a thread of its own: Playwright's sync API refuses a thread whose event loop
    # another Playwright (the web tests' browser, when they ran first) still holds.
    def count() -> list[tuple[int, float]]:
        with chromium() as browser:
            page = browser.new_page()
            return [tuple(page.evaluate(COUNT_COLOURS, "data:image/png;base64,"
                                        + base64.b64encode(p.read_bytes()).decode()))
                    for p in paths]

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(count).result()


def test_a_failing_step_is_named_and_fails_the_demo(tmp_path: Path) -> None:
    """A demo whose central server cannot start says which step failed."""
    env = {k: v for k, v in os.environ.items() if k not in ("UMOCKDEV_DIR", "DISPLAY")}
    blocker = tmp_path / "demo" / "facility"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the facility's directory should be")
    result = subprocess.run([sys.executable, "-m", "sallyport", "demo", "--dir",
                             str(tmp_path / "demo"), "--out", str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "step 3 (build the facility" in result.stderr
