"""The demo's walk through the web pages, in Debian's Chromium (headless,
driven by Playwright; never a downloaded browser).

Rosa Webb logs in on the family pages and writes to Marcus with a photo and
a sentence the agency's keyword list holds; the check page shows the stamp
cost before she sends. The message is held. The demo reviewer logs in on the
Facility System, opens the review queue and the held message (the term that
held it marked) and delivers it; Rosa's messages page then says it was
delivered. Each page is saved as a PNG in ``out``; each step is said through
``say`` as it passes. The kiosk's walkthrough then finds the message at the
kiosk (devkit/walkthrough.py).

The browser reaches the server through the demo's web front
(devkit/web_front.py) and trusts exactly the front's certificate, by its
public key's pin.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"  # Debian's `chromium` package
# What keeps the browser talking to nothing but the demo's server.
QUIET = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-default-apps", "--no-first-run", "--no-pings",
         "--disable-domain-reliability", "--disable-client-side-phishing-detection",
         "--metrics-recording-only", "--disable-breakpad",
         "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
MARCUS = "874512"
# Holds "burner phone", a term of the agency's English list (central/seed.py).
WEB_MESSAGE = ("Your uncle still laughs about the burner phone in that film. "
               "Here is the porch after the snow.")
TERM = "burner phone"
SHOTS = ("family-login", "family-write", "family-check", "family-held", "staff-login",
         "staff-queue", "staff-held-message", "staff-delivered", "family-delivered")


class WebWalkFailed(Exception):
    """A step of the web walk did not see what it should; ``step`` names it
    and ``observed`` says what the page showed instead."""

    def __init__(self, step: str, observed: str) -> None:
        super().__init__(f"{step}: {observed}")
        self.step = step
        self.observed = observed


def launch(browser_type: Any, pin: str) -> Any:
    """Debian's Chromium, headless, from a Playwright ``browser_type``,
    trusting the one certificate whose public key has the SHA-256 ``pin``
    (and forgiving no other certificate error). Raises WebWalkFailed when
    Debian's chromium is not installed."""
    if not Path(CHROMIUM).exists():
        raise WebWalkFailed("start Chromium", f"{CHROMIUM} is missing: install Debian's "
                            "chromium package")
    return browser_type.launch(executable_path=CHROMIUM, headless=True,
                               args=[*QUIET, f"--ignore-certificate-errors-spki-list={pin}"],
                               env=browser_environment(os.environ))


def browser_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` without umockdev's preload library (the test suite runs under
    it): under it, a Chromium now and then hangs on its first page."""
    kept = {k: v for k, v in env.items() if k not in ("LD_PRELOAD", "UMOCKDEV_DIR")}
    preload = [p for p in env.get("LD_PRELOAD", "").split(":")
               if p and "libumockdev-preload" not in p]
    if preload:
        kept["LD_PRELOAD"] = ":".join(preload)
    return kept


@contextmanager
def chromium(pin: str) -> Iterator[Any]:
    """:func:`launch` under a Playwright of its own (never downloading a browser)."""
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = launch(p.chromium, pin)
        try:
            yield browser
        finally:
            browser.close()


class WebWalk:
    """The walk's steps over one browser; :meth:`run` runs them in order."""

    def __init__(self, browser: Any, url: str, out: Path, photo: Path, *, staff_login: tuple[
            str, str], family_login: tuple[str, str], say: Callable[[str], None]) -> None:
        self.browser, self.url, self.out, self.photo = browser, url, out, photo
        self.staff_login, self.family_login, self.say = staff_login, family_login, say
        self.step_name = ""

    def run(self) -> None:
        """Raises WebWalkFailed, naming the step, when a page is not as it should be
        (that page is saved as ``failed.png``)."""
        self.out.mkdir(parents=True, exist_ok=True)
        family = self._page()
        staff = self._page()
        steps: list[tuple[str, Any, Callable[[Any], None]]] = [
            ("Rosa logs in on the family pages", family, self.family_logs_in),
            ("she writes to Marcus with a photo; the check page shows the stamps it costs",
             family, self.family_writes),
            ("she sends it: a term on the agency's list holds it for review",
             family, self.family_sends),
            ("the demo reviewer logs in on the Facility System", staff, self.staff_logs_in),
            ("the review queue holds Rosa's message", staff, self.staff_queue),
            (f"the held message, \"{TERM}\" marked, its photo beside it", staff,
             self.staff_opens),
            ("the reviewer delivers it", staff, self.staff_delivers),
            ("Rosa's messages page says it was delivered", family,
             self.family_sees_delivered),
        ]
        for name, page, action in steps:
            self.step_name = name
            try:
                action(page)
            except WebWalkFailed:
                self._failed(page)
                raise
            except Exception as e:  # a browser error: said with its step
                self._failed(page)
                raise WebWalkFailed(name, f"{type(e).__name__}: {e}") from e
            self.say(name)

    # -- the family ------------------------------------------------------------------

    def family_logs_in(self, page: Any) -> None:
        page.goto(self.url + "/family/login")
        self._shot(page, "family-login")
        page.get_by_label("Email").fill(self.family_login[0])
        page.get_by_label("Password").fill(self.family_login[1])
        self._submit(page, "Log in")
        self._expect("Welcome, Rosa Webb" in _main(page), _main(page))

    def family_writes(self, page: Any) -> None:
        page.goto(self.url + "/family/write")
        page.get_by_label("To", exact=True).select_option(MARCUS)
        page.get_by_label("Your message").fill(WEB_MESSAGE)
        page.get_by_label("A photo (JPEG or PNG)").check()
        page.get_by_label("File").set_input_files(str(self.photo))
        page.locator("#cost", has_text="will cost 2 stamps").wait_for()  # htmx's new cost
        self._shot(page, "family-write")
        self._submit(page, "Check the cost and send")
        cost = page.locator("dd.big").inner_text()
        self._expect(cost == "2 stamps", f"the cost shown is {cost!r}")  # the text and a photo
        width = page.locator("img.preview").evaluate("i => i.naturalWidth")
        self._expect(width > 0, "the photo does not show")
        self._shot(page, "family-check")

    def family_sends(self, page: Any) -> None:
        self._submit(page, "Send for 2 stamps")
        self._expect(page.url.endswith("/family/messages?done=held"), page.url)
        self._expect("Staff review it before it is delivered" in _main(page), _main(page))
        self._shot(page, "family-held")

    def family_sees_delivered(self, page: Any) -> None:
        page.goto(self.url + "/family/messages")
        text = _main(page)
        self._expect("Your message was reviewed and delivered." in text, text)
        mine = page.locator("ol.feed li.message", has_text=WEB_MESSAGE)
        self._expect(mine.count() == 1, f"{mine.count()} messages read {WEB_MESSAGE!r}")
        width = mine.locator("img").evaluate("i => i.naturalWidth")
        self._expect(width > 0, "its photo does not show")
        self._shot(page, "family-delivered")

    # -- the staff ------------------------------------------------------------------

    def staff_logs_in(self, page: Any) -> None:
        page.goto(self.url + "/staff/login")
        self._shot(page, "staff-login")
        page.get_by_label("Username").fill(self.staff_login[0])
        page.get_by_label("Password").fill(self.staff_login[1])
        self._submit(page, "Log in")
        self._expect(page.url.endswith("/staff"), page.url)

    def staff_queue(self, page: Any) -> None:
        with page.expect_navigation():
            page.get_by_role("navigation", name="Main").get_by_role(
                "link", name="Review queue").click()
        held = page.locator("li.held", has_text=WEB_MESSAGE)
        self._expect(held.count() == 1, _main(page))
        self._shot(page, "staff-queue")

    def staff_opens(self, page: Any) -> None:
        held = page.locator("li.held", has_text=WEB_MESSAGE)
        with page.expect_navigation():
            held.get_by_role("link").click()
        marked = [m.lower() for m in page.locator("main .letter mark").all_inner_texts()]
        self._expect(marked == [TERM], f"marked: {marked}")
        width = page.locator("main figure img").evaluate("i => i.naturalWidth")
        self._expect(width > 0, "the photo does not show")
        self._shot(page, "staff-held-message")

    def staff_delivers(self, page: Any) -> None:
        self._submit(page, "Deliver it")
        self._expect(page.url.endswith("/staff/review?done=approved"), page.url)
        self._expect(page.locator("li.held", has_text=WEB_MESSAGE).count() == 0, _main(page))
        self._shot(page, "staff-delivered")

    # -- helpers --------------------------------------------------------------------

    def _page(self) -> Any:
        # One browser context each: Rosa and the reviewer share no cookies.
        context = self.browser.new_context(locale="en-US", viewport={"width": 1280,
                                                                     "height": 800})
        context.set_default_timeout(90_000)  # two shared cores: slow is not wrong
        return context.new_page()

    def _submit(self, page: Any, button: str) -> None:
        with page.expect_navigation():
            page.get_by_role("button", name=button, exact=True).click()

    def _expect(self, condition: bool, observed: str) -> None:
        if not condition:
            raise WebWalkFailed(self.step_name, observed[:600])

    def _failed(self, page: Any) -> None:
        """Save the page a step failed on, if the browser still can."""
        with contextlib.suppress(Exception):
            self._shot(page, "failed")

    def _shot(self, page: Any, name: str) -> None:
        page.screenshot(path=str(self.out / f"{name}.png"), full_page=True)


def _main(page: Any) -> str:
    return re.sub(r"\s+", " ", str(page.inner_text("main")))


def walk(url: str, pin: str, out: Path, photo: Path, *, staff_login: tuple[str, str],
         family_login: tuple[str, str], say: Callable[[str], None]) -> list[str]:
    """Run the walk against ``url`` (trusting the certificate pinned by
    ``pin``); returns the names of the pages saved in ``out``. Raises
    WebWalkFailed."""
    with chromium(pin) as browser:
        WebWalk(browser, url, out, photo, staff_login=staff_login, family_login=family_login,
                say=say).run()
    return sorted(p.stem for p in out.glob("*.png"))
