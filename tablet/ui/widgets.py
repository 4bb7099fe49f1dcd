"""Making the widgets that the .kv files declare (dynamic classes take their
properties only once built), and texts several screens show."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.factory import Factory
from kivy.lang import Builder

from tablet.ui.context import LockView


def make(kind: str, /, **properties: Any) -> Any:
    widget = getattr(Factory, kind)()
    for key, value in properties.items():
        setattr(widget, key, value)
    return widget


def clear(box: Any) -> None:
    """Take the widgets out of ``box`` and their .kv bindings with them: a
    widget made from a rule stays bound to ``app.style`` and ``app.lang``
    until then, and a later change of look would reach it after it is gone."""
    for child in list(box.children):
        for widget in child.walk(restrict=True):
            Builder.unbind_widget(widget.uid)
    box.clear_widgets()


def lock_text(lock: LockView, t: Callable[..., str]) -> str:
    """The lock's explanation in the language shown (its English when it has
    no template to translate)."""
    if lock.template is None:
        return t(lock.explanation)
    return t(lock.template, days=lock.days) if "{days}" in lock.template else t(lock.template)
