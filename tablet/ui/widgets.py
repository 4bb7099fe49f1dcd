"""Making the widgets that the .kv files declare (dynamic classes take their
properties only once built)."""

from __future__ import annotations

from typing import Any

from kivy.factory import Factory


def make(kind: str, /, **properties: Any) -> Any:
    widget = getattr(Factory, kind)()
    for key, value in properties.items():
        setattr(widget, key, value)
    return widget
