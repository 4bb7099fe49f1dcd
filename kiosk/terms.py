"""The terms a resident reads and accepts before using the kiosk (one text
file per language in ``terms_text/``), and who has accepted which version
(kept in the kiosk's state). No Kivy."""

from __future__ import annotations

import json
from pathlib import Path

from base.files import write_atomic

VERSION = "2026-11"

TEXT_DIR = Path(__file__).parent / "terms_text"
TEXT = {path.stem: path.read_text(encoding="utf-8").strip()
        for path in sorted(TEXT_DIR.glob("*.txt"))}  # language -> the terms, in that language


class TermsLedger:
    """Who accepted which version, in ``path`` (JSON, written atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def accepted(self, agency_id: str, version: str = VERSION) -> bool:
        return self._read().get(agency_id) == version

    def accept(self, agency_id: str, version: str = VERSION) -> None:
        data = self._read()
        data[agency_id] = version
        write_atomic(self.path, json.dumps(data, sort_keys=True).encode())
