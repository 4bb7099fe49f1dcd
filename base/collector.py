"""Keeping the cyclic garbage collector out of a burst of property changes."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collected_first() -> Iterator[None]:
    """Collect garbage now, then keep the cyclic collector from running until
    the block ends. A Kivy widget's .kv rules are unbound when it is finalized;
    a collection that starts in the middle of a property's dispatch clears the
    weak references to a widget already removed from its screen before its
    rules are unbound, and the dispatch then reaches a rule whose widget is
    gone (ReferenceError). Collecting first finalizes such widgets before the
    dispatch starts; pausing keeps a new collection from starting in it."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
