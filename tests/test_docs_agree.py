"""The documents that describe the wire say what the code declares: every
frame of the sync protocol (docs/protocol.md) and every message in the
tablet's channel (docs/security.md), with its number and its fields in order,
and every error code the session can send."""

import re
from dataclasses import fields
from pathlib import Path

from device_security import messages
from sync import frames, session

ROOT = Path(__file__).resolve().parent.parent


def documented(table_start: str, doc: str) -> dict[str, tuple[int, list[str]]]:
    """Frame name -> (type, field names) from a markdown table whose rows begin
    ``| type | `Name` |`` and whose continuation rows name one field each."""
    text = (ROOT / "docs" / doc).read_text()
    table = text[text.index(table_start):]
    table = table[:table.index("\n\n")]
    out: dict[str, tuple[int, list[str]]] = {}
    current: str | None = None
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0]:
            current = cells[1].strip("`")
            out[current] = (int(cells[0]), [])
        assert current is not None
        if len(cells) > 3 and cells[3]:
            out[current][1].append(cells[3].strip("`"))
    return out


def declared_fields(cls: type) -> list[str]:
    names = []
    for f in fields(cls):
        names.append(f.name)
        kind = f.metadata["wire"]
        inner = getattr(kind, "item", None)
        if inner is not None and hasattr(inner, "cls") and type(inner).__name__ == "Struct":
            names += [f"{f.name}[i].{g.name}" for g in fields(inner.cls)]
    return names


def test_every_sync_frame_is_documented_as_declared() -> None:
    docs = documented("| type | frame | direction |", "protocol.md")
    code = {cls.__name__: (cls.TYPE, declared_fields(cls)) for cls in frames.FRAME_TYPES}
    assert docs == code


def test_every_channel_message_is_documented_as_declared() -> None:
    docs = documented("| type | message | from → to | fields |", "security.md")
    code = {cls.__name__: cls.TYPE for cls in messages.MESSAGE_TYPES}
    assert {name: number for name, (number, _) in docs.items()} == code
    text = (ROOT / "docs" / "security.md").read_text()
    for cls in messages.MESSAGE_TYPES:
        row = next(line for line in text.splitlines() if f"| `{cls.__name__}` |" in line)
        named = re.findall(r"`([a-z_]+)`", row.split("|")[4])
        assert named == [f.name for f in fields(cls)], cls.__name__


def test_every_error_code_a_session_sends_is_documented() -> None:
    text = (ROOT / "docs" / "protocol.md").read_text()
    codes = {value for name, value in vars(session).items()
             if name.isupper() and isinstance(value, str) and re.fullmatch(r"[a-z_]+", value)
             and name not in ("CAPS",)}
    codes |= {frames.FRAME_TOO_LARGE, frames.MALFORMED_FRAME, frames.UNKNOWN_FRAME_TYPE,
              frames.UNSUPPORTED_VERSION}
    missing = sorted(c for c in codes if f"| `{c}` |" not in text)
    assert not missing, missing
