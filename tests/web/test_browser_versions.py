"""The Playwright release pinned in setup.cfg was made for the Chromium major
version that Debian ships: when Debian moves on, this says to move the pin."""

from __future__ import annotations

from typing import Any

from tests.web.rig import chromium_major, playwright_chromium_major


def test_playwright_and_debians_chromium_agree(browser: Any) -> None:
    debian = chromium_major()
    assert playwright_chromium_major() == debian, (
        f"Debian's chromium is {debian}; pin the Playwright release whose browsers.json "
        f"names Chromium {debian} in setup.cfg")
    assert int(browser.version.split(".")[0]) == debian  # and that is what runs
