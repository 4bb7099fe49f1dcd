"""How the resident likes their tablet to read: the language, larger text and
high contrast, remembered in the device directory's ``settings.json``.

The language is kept in the clear: it says nothing about the resident that
their letters do not, and the tablet can greet them in it before it opens
anything sealed. Larger text and high contrast hint at how well the resident
sees, so they are sealed under a key the secure element derives (a copy of
the storage does not tell them). The file is written atomically; one that
cannot be read, is from another version, or was sealed under another key
gives the defaults, with a log line, never a crash. The settings belong to
the owner they were chosen by: a tablet given to someone else starts plain.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from base.files import write_atomic
from device_security.at_rest import Sealer
from device_security.errors import IntegrityError

log = logging.getLogger(__name__)

LANGUAGES = ("en", "es")
VERSION = 1
MAX_FILE = 4096  # bytes: the file holds a few words
_CONTEXT = b"sallyport tablet settings v1"


@dataclass(frozen=True)
class Settings:
    language: str = "en"
    large_text: bool = False
    contrast: bool = False
    owner: str | None = None  # the resident who chose them

    def __post_init__(self) -> None:
        if self.language not in LANGUAGES:
            raise ValueError(f"the tablet speaks {', '.join(LANGUAGES)}, "
                             f"not {self.language!r}")

    def changed(self, **values: Any) -> Settings:
        """A copy with ``values`` changed; raises ValueError for a language the
        tablet does not speak."""
        return replace(self, **values)


def encode(settings: Settings, sealer: Sealer) -> bytes:
    """The file's bytes: the language in the clear, the rest sealed."""
    look = json.dumps({"large_text": settings.large_text, "contrast": settings.contrast,
                       "owner": settings.owner}).encode()
    return json.dumps({"version": VERSION, "language": settings.language,
                       "sealed": sealer.seal(look, _CONTEXT).hex()}, indent=1).encode()


def decode(data: bytes, sealer: Sealer) -> Settings:
    """Settings from the file's bytes. Raises ValueError for a file this
    version cannot read, IntegrityError for a sealed part that does not open."""
    if len(data) > MAX_FILE:
        raise ValueError(f"a settings file is at most {MAX_FILE} bytes, not {len(data)}")
    try:
        outer = json.loads(data)
        if not isinstance(outer, dict) or outer.get("version") != VERSION:
            raise ValueError(f"settings version {outer.get('version')!r}"
                             if isinstance(outer, dict) else "settings are not an object")
        language = outer["language"]
        look = json.loads(sealer.open(bytes.fromhex(str(outer["sealed"])), _CONTEXT))
    except (KeyError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"the settings file cannot be read: {e}") from e
    if not isinstance(language, str) or not isinstance(look, dict):
        raise ValueError("the settings file cannot be read")
    large, contrast, owner = look.get("large_text"), look.get("contrast"), look.get("owner")
    if not isinstance(large, bool) or not isinstance(contrast, bool) \
            or not (owner is None or isinstance(owner, str)):
        raise ValueError("the settings file holds values of the wrong kind")
    return Settings(language, large, contrast, owner)


class SettingsFile:
    """The tablet's ``settings.json``, sealed with ``sealer``."""

    def __init__(self, path: Path, sealer: Sealer) -> None:
        self.path = path
        self._sealer = sealer

    def load(self, owner: str | None = None) -> Settings:
        """The settings ``owner`` chose (the defaults when there are none, when
        another resident chose them, or when the file cannot be read)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return Settings(owner=owner)
        except OSError as e:
            log.warning("the tablet's settings cannot be read (%s): the defaults are used", e)
            return Settings(owner=owner)
        try:
            settings = decode(data, self._sealer)
        except (ValueError, IntegrityError) as e:
            log.warning("the tablet's settings are ignored (%s): the defaults are used", e)
            return Settings(owner=owner)
        if owner is not None and settings.owner != owner:
            return Settings(owner=owner)  # chosen by the tablet's previous owner
        return settings

    def save(self, settings: Settings) -> None:
        """Write the settings atomically (the old file or the new, never half)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, encode(settings, self._sealer), mode=0o600)
