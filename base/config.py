"""Typed configuration: a frozen dataclass filled from a TOML table and the environment.

Each process has one configuration dataclass. Values come, in rising order
of precedence, from the dataclass defaults, a table of a TOML file, and
environment variables named ``PREFIX_FIELD`` (``SALLYPORT_HW_USB_BACKEND``).
A key the dataclass does not have, in the file or in the environment under
the prefix, is an error: a typo must not silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which key and why."""

    def __init__(self, message: str, *, source: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source


def _convert(value: Any, hint: Any, key: str, source: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], key, source)
    if origin is tuple:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ConfigError(f"{key} must be a list, got {value!r}", source=source)
        return tuple(_convert(v.strip() if isinstance(v, str) else v, args[0], key, source)
                     for v in items if v != "")
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false",
                                                        "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{key} must be true or false, got {value!r}", source=source)
    if hint in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{key} must be a number, got {value!r}", source=source)
        try:
            return hint(value)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"{key} must be a number, got {value!r}", source=source) from e
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be text, got {value!r}", source=source)
        return value
    if hint is Path:
        return Path(str(value))
    raise ConfigError(f"{key} has a type the loader does not know: {hint!r}", source=source)


def load_config(
    cls: type[T],
    *,
    path: Path | None = None,
    section: str | None = None,
    env: Mapping[str, str] | None = None,
    prefix: str,
) -> T:
    """Build ``cls`` from defaults, the file at ``path`` and the environment.

    ``section`` picks one table of the file (the file's other tables belong
    to other parts). Raises ConfigError naming the bad key, and whatever
    ValueError the dataclass's own checks raise, wrapped in ConfigError.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    if path is not None:
        source = str(path)
        try:
            with path.open("rb") as f:
                data: Any = tomllib.load(f)
        except OSError as e:
            raise ConfigError(f"cannot read: {e.strerror}", source=source) from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"not valid TOML: {e}", source=source) from e
        if section is not None:
            data = data.get(section, {})
            if not isinstance(data, dict):
                raise ConfigError(f"[{section}] must be a table", source=source)
        unknown = sorted(set(data) - fields)
        if unknown:
            where = f"[{section}] " if section else ""
            raise ConfigError(f"unknown key(s) {where}{', '.join(unknown)}; known: "
                              f"{', '.join(sorted(fields))}", source=source)
        for key, value in data.items():
            values[key] = _convert(value, hints[key], key, source)
    env = env if env is not None else {}
    head = prefix.upper() + "_"
    for name, raw in env.items():
        if not name.startswith(head):
            continue
        key = name[len(head):].lower()
        if key not in fields:
            raise ConfigError(f"unknown setting {name}; known: "
                              f"{', '.join(head + f.upper() for f in sorted(fields))}",
                              source="environment")
        values[key] = _convert(raw, hints[key], key, "environment")
    try:
        return cls(**values)
    except ValueError as e:
        raise ConfigError(str(e), source=str(path) if path else "defaults") from e


def dump_toml(tables: Mapping[str, Mapping[str, Any]]) -> str:
    """Tables of plain values (text, numbers, booleans, lists of them) as TOML."""
    lines = []
    for name, values in tables.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
        lines.append("")
    return "\n".join(lines)


def update_config_file(path: Path, changes: Mapping[str, Mapping[str, Any]]) -> None:
    """Set keys in the tables of the TOML file at ``path`` (the rest kept),
    written atomically. Raises ConfigError when the file cannot be read."""
    try:
        with path.open("rb") as f:
            data: dict[str, Any] = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read: {e}", source=str(path)) from e
    for table, values in changes.items():
        data.setdefault(table, {}).update(values)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(dump_toml(data))
    os.replace(tmp, path)
