"""The terms a resident reads and accepts before using the kiosk: one text
per language in ``terms_text/``, with the agency's numbers (refund window,
tablet lock days, ticket deadline) filled in from its policy, so the words
say what the system does. What was accepted is the SHA-256 of the exact text
shown; the central server records it (and the text reaches the resident's
tablet), and the kiosk keeps its own note, with what it could not send yet.
No Kivy."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from base.files import write_atomic
from kiosk.records import AgencyPolicy

TEXT_DIR = Path(__file__).parent / "terms_text"
TEXT = {path.stem: path.read_text(encoding="utf-8").strip()
        for path in sorted(TEXT_DIR.glob("*.txt"))}  # language -> the terms' template
DEFAULT_LOCK_DAYS = 14  # before the first round brings the agency's


def render(language: str, policy: AgencyPolicy) -> str:
    """The terms in ``language`` (English for one not offered) with the
    agency's numbers: pure."""
    template = TEXT.get(language, TEXT["en"])
    return template.format(refund_window_days=policy.refund_window_days,
                           tablet_lock_days=policy.tablet_lock_days or DEFAULT_LOCK_DAYS,
                           ticket_days=policy.ticket_resolution_days)


def digest(text: str) -> str:
    """The SHA-256 of the terms as accepted (UTF-8), in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Unsent:
    """An acceptance the central server has not recorded yet."""

    agency_id: str
    sha256: str
    language: str
    text: str


class TermsLedger:
    """Which terms texts each resident accepted here (by SHA-256), and the
    acceptances still to send, in ``path`` (JSON, written atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _entry(self, data: dict[str, Any], agency_id: str) -> dict[str, Any]:
        entry = data.get(agency_id)
        if not (isinstance(entry, dict) and isinstance(entry.get("accepted"), list)
                and isinstance(entry.get("unsent"), list)):
            entry = {"accepted": [], "unsent": []}
            data[agency_id] = entry
        return entry

    def accepted(self, agency_id: str, sha256: str) -> bool:
        return sha256 in self._entry(self._read(), agency_id)["accepted"]

    def accept(self, agency_id: str, sha256: str, *, unsent: Unsent | None = None) -> None:
        """Note an acceptance (``unsent``: the server has not recorded it yet)."""
        data = self._read()
        entry = self._entry(data, agency_id)
        if sha256 not in entry["accepted"]:
            entry["accepted"].append(sha256)
        if unsent is not None and all(u.get("sha256") != sha256 for u in entry["unsent"]):
            entry["unsent"].append({"sha256": sha256, "language": unsent.language,
                                    "text": unsent.text})
        write_atomic(self.path, json.dumps(data, sort_keys=True).encode())

    def learn(self, agency_id: str, shas: tuple[str, ...]) -> None:
        """What the server says this resident accepted (at any kiosk)."""
        data = self._read()
        entry = self._entry(data, agency_id)
        entry["accepted"] = sorted(set(entry["accepted"]) | set(shas))
        entry["unsent"] = [u for u in entry["unsent"] if u.get("sha256") not in shas]
        write_atomic(self.path, json.dumps(data, sort_keys=True).encode())

    def unsent(self, agency_id: str) -> list[Unsent]:
        return [Unsent(agency_id, str(u["sha256"]), str(u["language"]), str(u["text"]))
                for u in self._entry(self._read(), agency_id)["unsent"]
                if isinstance(u, dict) and {"sha256", "language", "text"} <= set(u)]
