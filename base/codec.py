"""A strict, bounded codec for messages declared as frozen dataclasses.

A message (a *frame*) is a 4-byte big-endian length N, then N bytes of
canonical CBOR ``[type, body]``: an unsigned frame type and a map of the
frame's fields keyed by text. Each field of a frame's dataclass declares how
it is carried and bounded (a :class:`Kind`, given with :func:`wire`), and one
reader and one writer work from those declarations. A :class:`FrameCodec`
holds one protocol's frame types; the kiosk-tablet sync session
(sync/frames.py) and the pairing messages (device_security/messages.py) each
have one.

Decoding is strict and bounded: CBOR tags, floats, simple values other than
true, false and null, negative integers or integers above 2**63-1,
indefinite lengths, non-text map keys, duplicate, unknown or missing keys,
values out of their bounds, and any encoding that is not canonical are
refused with an error naming the frame and the field and showing the bad
value. Bounds are checked before anything is read or copied, nesting is
limited, and a frame holds at most ``max_items`` data items (counted from
each container's head, before its items are read). No other exception leaves
:meth:`FrameCodec.decode_body`. Encoding checks the same rules, so one side
never sends what the other must refuse.

Each protocol raises its own errors (``ErrorKinds``), all built on
:class:`FieldedError`; this module's own :class:`CodecError` tree is the default.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeAlias, cast

import cbor2

PREFIX_SIZE = 4
MAX_UINT = 2**63 - 1
MAX_BODY = 64 * 1024
MAX_BODY_DEPTH = 8


# -- errors ---------------------------------------------------------------------


class FieldedError(Exception):
    """An error of a message's format: ``code`` is the short text a protocol's
    error message carries for it; ``frame`` names the frame type (None when it
    is not known), ``field`` the path of the field inside it
    (``records[3].body``; None for the frame as a whole), and ``value`` shows
    the offending value, shortened."""

    code: ClassVar[str] = "format_error"

    def __init__(self, problem: str, *, frame: str | None = None, field: str | None = None,
                 value: str | None = None) -> None:
        where = ".".join(part for part in (frame, field) if part)
        message = f"{where}: {problem}" if where else problem
        if value is not None:
            message += f" (got {value})"
        super().__init__(message)
        self.problem = problem
        self.frame = frame
        self.field = field
        self.value = value


class CodecError(FieldedError):
    """Base of this module's default errors."""


class FrameTooLarge(CodecError):
    """A frame longer than the limit: refused before its body is read."""

    code = "frame_too_large"


class MalformedFrame(CodecError):
    """Bytes that are not a valid frame, or a frame whose fields are out of bounds."""

    code = "malformed_frame"


class UnknownFrameType(CodecError):
    """A frame type the protocol does not define."""

    code = "unknown_frame_type"


@dataclass(frozen=True)
class ErrorKinds:
    """The error classes a codec raises, so that each protocol keeps its own tree."""

    too_large: type[FieldedError] = FrameTooLarge
    malformed: type[FieldedError] = MalformedFrame
    unknown: type[FieldedError] = UnknownFrameType


class _Bad(Exception):
    """A problem found while reading or writing a value; the path to the value
    is collected on the way out and the frame's name added at the top."""

    def __init__(self, problem: str, value: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.value = value
        self.path: list[str] = []  # innermost first

    def where(self) -> str | None:
        return "".join(reversed(self.path)).lstrip(".") or None


class _Truncated(_Bad):
    """The bytes end (or reach a size limit) inside a value."""


def _show(value: object, limit: int = 40) -> str:
    """A short rendering of a value for an error message."""
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value[:16])
        more = "…" if len(value) > 16 else ""
        return f"h'{data.hex()}{more}', {len(value)} bytes"
    if isinstance(value, str):
        shown = repr(value[:limit]) + ("…" if len(value) > limit else "")
        return f"{shown}, {len(value)} characters" if len(value) > limit else shown
    text = repr(value)
    return text[:limit * 2] + ("…" if len(text) > limit * 2 else "")




# -- reading CBOR -----------------------------------------------------------------

_Buf: TypeAlias = bytes | memoryview  # what the reader reads from: a frame, not copied
_WIDTHS = {24: 1, 25: 2, 26: 4, 27: 8}
_CODES = {width: code for code, width in _WIDTHS.items()}
_SHORTEST = {1: 24, 2: 0x100, 4: 0x10000, 8: 0x100000000}
_FALSE, _TRUE, _NULL = 20, 21, 22


def _head(buf: _Buf, pos: int, end: int) -> tuple[int, int, int]:
    """Read one CBOR head at ``pos``: (major type, argument, position after it).

    Refuses here, for every caller, what the format never allows: tags,
    floats, simple values other than false/true/null, negative integers,
    integers over 2**63-1, indefinite lengths, and heads not in shortest form.
    """
    if pos >= end:
        raise _Truncated("the data ends where a value should start")
    initial = buf[pos]
    major = initial >> 5
    arg = initial & 0x1F
    pos += 1
    if arg >= 24:
        if major == 7:
            if arg in (25, 26, 27):
                raise _Bad("floats are not allowed", f"0x{initial:02x}")
            if arg == 31:
                raise _Bad("indefinite lengths are not allowed", "a break code")
            raise _Bad("only true, false and null simple values are allowed", f"0x{initial:02x}")
        width = _WIDTHS.get(arg)
        if width is None:
            problem = ("indefinite lengths are not allowed" if arg == 31
                       else "a reserved CBOR head")
            raise _Bad(problem, f"0x{initial:02x}")
        if pos + width > end:
            raise _Truncated("the data ends inside a value's head")
        value = int.from_bytes(buf[pos:pos + width], "big")
        if value < _SHORTEST[width]:
            raise _Bad("a CBOR head not in its shortest form (the encoding must be canonical)",
                       f"{value} in {width + 1} bytes")
        arg = value
        pos += width
    if major == 1:
        raise _Bad("negative integers are not allowed", str(-1 - arg))
    if major == 6:
        raise _Bad("CBOR tags are not allowed", f"tag {arg}")
    if major == 7 and arg not in (_FALSE, _TRUE, _NULL):
        raise _Bad("only true, false and null simple values are allowed",
                   "undefined" if arg == 23 else f"simple value {arg}")
    if major == 0 and arg > MAX_UINT:
        raise _Bad("integers above 2**63-1 are not allowed", str(arg))
    return major, arg, pos


def _describe(buf: _Buf, major: int, arg: int, pos: int, end: int) -> str:
    """What a value is, from its head (``pos`` is just after the head)."""
    if major == 0:
        return str(arg)
    if major == 7:
        return {_FALSE: "false", _TRUE: "true", _NULL: "null"}[arg]
    if major == 2:
        more = "…" if arg > 16 else ""
        return f"a byte string h'{buf[pos:min(end, pos + arg, pos + 16)].hex()}{more}', {arg} bytes"
    if major == 3:
        text = str(buf[pos:min(end, pos + arg, pos + 160)], "utf-8", "replace")
        return f"text {_show(text)}"
    if major == 4:
        return f"an array of {arg} items"
    return f"a map of {arg} entries"


def _expected(what: str, buf: _Buf, major: int, arg: int, pos: int, end: int) -> _Bad:
    return _Bad(f"expected {what}", _describe(buf, major, arg, pos, end))


def _text(buf: _Buf, pos: int, size: int, end: int) -> str:
    stop = pos + size
    if stop > end:
        raise _Truncated("the data ends inside a text string")
    try:
        return str(buf[pos:stop], "utf-8")
    except UnicodeDecodeError as e:
        raise _Bad("text that is not valid UTF-8", _show(buf[pos:stop])) from e


def _key(buf: _Buf, pos: int, end: int, longest: int) -> tuple[str, int, int]:
    """Read a map key: (key, its encoded length in bytes, position after it).
    A key longer than ``longest`` bytes is refused without decoding it."""
    major, size, pos = _head(buf, pos, end)
    if major != 3:
        raise _Bad("map keys must be text", _describe(buf, major, size, pos, end))
    if size > longest:
        raise _Bad("unknown key", _describe(buf, major, size, pos, end))
    return _text(buf, pos, size, end), size, pos + size


def _in_order(previous: tuple[int, str] | None, current: tuple[int, str], key: str) -> None:
    """Canonical CBOR orders text keys by encoded length, then bytewise (the
    same as by code point)."""
    if previous is None or previous < current:
        return
    if previous == current:
        raise _Bad("duplicate key", repr(key))
    raise _Bad("map keys not in canonical order (the encoding must be canonical)", repr(key))


_NOT_ONE_BYTE = object()
_ONE_BYTE: list[object] = [*range(24), *[_NOT_ONE_BYTE] * (256 - 24)]
_ONE_BYTE[0x40], _ONE_BYTE[0x60] = b"", ""
_ONE_BYTE[0xF4], _ONE_BYTE[0xF5], _ONE_BYTE[0xF6] = False, True, None


class _Items:
    """What is left of one frame's allowance of CBOR data items (``limit``).
    A container's items are counted from its head, before any of them is
    read, so a frame of countless tiny items is refused for the cost of
    reading the allowance, not the frame."""

    __slots__ = ("left", "limit")

    def __init__(self, left: int, limit: int) -> None:
        self.left = left
        self.limit = limit


def _too_many(buf: _Buf, major: int, arg: int, pos: int, end: int, items: _Items) -> _Bad:
    return _Bad(f"more than {items.limit} CBOR data items in one frame",
                _describe(buf, major, arg, pos, end))


def _any(buf: _Buf, pos: int, end: int, depth: int, items: _Items) -> tuple[Any, int]:
    """Read any allowed value (maps come back as dicts, arrays as lists);
    containers may nest ``depth`` levels, and count their items in ``items``."""
    if pos >= end:
        raise _Truncated("the data ends where a value should start")
    initial = buf[pos]
    value = _ONE_BYTE[initial]
    if value is not _NOT_ONE_BYTE:  # small integers, false/true/null, b"" and ""
        return value, pos + 1
    if 0x40 <= initial < 0xC0 and initial & 0x1F < 24:  # bytes, text, array or map, short
        major, arg = initial >> 5, initial & 0x1F
        pos += 1
    else:
        major, arg, pos = _head(buf, pos, end)
    if major == 0:
        return arg, pos
    if major == 2:
        stop = pos + arg
        if stop > end:
            raise _Truncated("the data ends inside a byte string")
        return bytes(buf[pos:stop]), stop
    if major == 3:
        return _text(buf, pos, arg, end), pos + arg
    if major == 7:
        return (False, True, None)[arg - _FALSE], pos
    if depth <= 0:
        raise _Bad("nested too deeply", _describe(buf, major, arg, pos, end))
    if major == 4:
        if arg > end - pos:
            raise _Truncated("the data ends inside an array")
        items.left -= arg
        if items.left < 0:
            raise _too_many(buf, major, arg, pos, end, items)
        values: list[Any] = []
        for index in range(arg):
            try:
                item, pos = _any(buf, pos, end, depth - 1, items)
            except _Bad as e:
                e.path.append(f"[{index}]")
                raise
            values.append(item)
        return values, pos
    if arg > (end - pos) // 2:
        raise _Truncated("the data ends inside a map")
    items.left -= 2 * arg
    if items.left < 0:
        raise _too_many(buf, major, arg, pos, end, items)
    entries: dict[str, Any] = {}
    previous: tuple[int, str] | None = None
    for _ in range(arg):
        key, size, pos = _key(buf, pos, end, end)
        order = (size, key)
        if previous is not None and not previous < order:
            _in_order(previous, order, key)
        previous = order
        try:
            entries[key], pos = _any(buf, pos, end, depth - 1, items)
        except _Bad as e:
            e.path.append(f"[{key!r}]")
            raise
    return entries, pos


def _head_size(arg: int) -> int:
    if arg < 24:
        return 1
    if arg < 0x100:
        return 2
    if arg < 0x10000:
        return 3
    return 5 if arg < 0x100000000 else 9


_BODY_SCALARS = (type(None), bool, int, str, bytes)


def _plain(value: object, depth: int) -> tuple[Any, int]:
    """Check a value of a free-form body for sending: (what cbor2 is given,
    its encoded size). The rules are those :func:`_any` reads by."""
    if isinstance(value, _BODY_SCALARS) and type(value) not in _BODY_SCALARS:
        raise _Bad(f"a {type(value).__name__} cannot be sent (only plain values are)",
                   _show(value))
    if value is None or isinstance(value, bool):
        return value, 1
    if isinstance(value, int):
        if not 0 <= value <= MAX_UINT:
            raise _Bad("integers must be 0..2**63-1", str(value))
        return value, _head_size(value)
    if isinstance(value, str):
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError as e:
            raise _Bad("text that cannot be UTF-8 encoded", _show(value)) from e
        return value, _head_size(size) + size
    if isinstance(value, bytes):
        return value, _head_size(len(value)) + len(value)
    if isinstance(value, list | tuple | Mapping):
        if depth <= 0:
            raise _Bad("nested too deeply", _show(value))
        if isinstance(value, Mapping):
            entries: dict[str, Any] = {}
            total = _head_size(len(value))
            for key, item in value.items():
                if type(key) is not str:
                    raise _Bad("map keys must be text", _show(key))
                try:
                    entries[key], size = _plain(item, depth - 1)
                    total += size + _plain(key, depth)[1]
                except _Bad as e:
                    e.path.append(f"[{key!r}]")
                    raise
            return entries, total
        items: list[Any] = []
        total = _head_size(len(value))
        for index, item in enumerate(value):
            try:
                plain, size = _plain(item, depth - 1)
            except _Bad as e:
                e.path.append(f"[{index}]")
                raise
            items.append(plain)
            total += size
        return items, total
    raise _Bad(f"a {type(value).__name__} cannot be sent (floats, tags and other types "
               "are not allowed)", _show(value))




# -- how fields are carried -----------------------------------------------------


class Kind(ABC):
    """How one field is carried on the wire, and its bounds."""

    @abstractmethod
    def read(self, buf: _Buf, pos: int, end: int, items: _Items) -> tuple[Any, int]:
        """Read the value at ``pos``: (value, position after it), counting the
        data items of a container in ``items``. Raises _Bad."""

    @abstractmethod
    def dump(self, value: object) -> object:
        """Check a value for sending and give what cbor2 encodes. Raises _Bad."""


class UInt(Kind):
    """An unsigned integer in ``lo..hi``."""

    def __init__(self, lo: int = 0, hi: int = MAX_UINT) -> None:
        self.lo, self.hi = lo, hi

    def _check(self, value: int) -> None:
        if not self.lo <= value <= self.hi:
            raise _Bad(f"must be {self.lo}..{self.hi}", str(value))

    def read(self, buf: _Buf, pos: int, end: int, items: _Items) -> tuple[Any, int]:
        major, arg, after = _head(buf, pos, end)
        if major != 0:
            raise _expected("an unsigned integer", buf, major, arg, after, end)
        self._check(arg)
        return arg, after

    def dump(self, value: object) -> object:
        if type(value) is not int:
            raise _Bad("must be an int", _show(value))
        self._check(value)
        return value


class Bool(Kind):
    """true or false."""

    def read(self, buf: _Buf, pos: int, end: int, items: _Items) -> tuple[Any, int]:
        major, arg, after = _head(buf, pos, end)
        if major != 7 or arg == _NULL:
            raise _expected("true or false", buf, major, arg, after, end)
        return arg == _TRUE, after

    def dump(self, value: object) -> object:
        if type(value) is not bool:
            raise _Bad("must be a bool", _show(value))
        return value


class Bytes(Kind):
    """A byte string of ``lo..hi`` bytes."""

    def __init__(self, lo: int, hi: int) -> None:
        self.lo, self.hi = lo, hi

    def _bounds(self) -> str:
        return f"exactly {self.lo} bytes" if self.lo == self.hi else f"{self.lo}..{self.hi} bytes"

    def read(self, buf: _Buf, pos: int, end: int, items: _Items) -> tuple[Any, int]:
        major, size, after = _head(buf, pos, end)
        if major != 2:
            raise _expected("a byte string", buf, major, size, after, end)
        if not self.lo <= size <= self.hi:
            raise _Bad(f"must be {self._bounds()}", _describe(buf, major, size, after, end))
        stop = after + size
        if stop > end:
            raise _Truncated("the data ends inside a byte string")
        return bytes(buf[after:stop]), stop

    def dump(self, value: object) -> object:
        if type(value) is not bytes:
            raise _Bad("must be bytes", _show(value))
        if not self.lo <= len(value) <= self.hi:
            raise _Bad(f"must be {self._bounds()}", _show(value))
        return value


class Text(Kind):
    """Text of ``lo..hi`` characters, all from ``charset`` (a regular
    expression character class such as ``a-z0-9_``) if one is given."""

    def __init__(self, lo: int, hi: int, charset: str | None = None) -> None:
        self.lo, self.hi, self.charset = lo, hi, charset
        self._pattern = re.compile(f"[{charset}]*", re.ASCII) if charset else None

    def _check(self, value: str) -> None:
        if not self.lo <= len(value) <= self.hi:
            raise _Bad(f"must have {self.lo}..{self.hi} characters", _show(value))
        if self._pattern is not None and not self._pattern.fullmatch(value):
            raise _Bad(f"may hold only [{self.charset}]", _show(value))

    def read(self, buf: _Buf, pos: int, end: int, items: _Items) -> tuple[Any, int]:
        major, size, after = _head(buf, pos, end)
        if major != 3:
            raise _expected("text", buf, major, size, after, end)
        if size > 4 * self.hi:  # more bytes than hi characters can take in UTF-8
            raise _Bad(f"must have {self.lo}..{self.hi} characters",
                       _describe(buf, major, size, after, end))
        value = _text(buf, after, size, end)
        self._check(value)
        return value, after + size

    def dump(self, value: object) -> object:
        if type(value) is not str:
            raise _Bad("must be a str", _show(value))
        self._check(value)
        _plain(value, 0)  # refuses text that cannot be encoded
        return value


class Array(Kind):
    """An array of ``lo..hi`` items of one kind; a tuple in Python."""

    def __init__(self, item: Kind, lo: int, hi: int) -> None:
        self.item, self.lo, self.hi = item, lo, hi

    def _check(self, count: int, shown: str) -> None:
        if not self.lo <= count <= self.hi:
            raise _Bad(f"must have {self.lo}..{self.hi} items", shown)

    def read(self, buf: _Buf, pos: int, end: int, items: _Items) -> tuple[Any, int]:
        major, count, after = _head(buf, pos, end)
        if major != 4:
            raise _expected("an array", buf, major, count, after, end)
        self._check(count, f"{count} items")
        if count > end - after:
            raise _Truncated("the data ends inside an array")
        items.left -= count
        if items.left < 0:
            raise _too_many(buf, major, count, after, end, items)
        read = self.item.read
        values: list[Any] = []
        for index in range(count):
            try:
                item, after = read(buf, after, end, items)
            except _Bad as e:
                e.path.append(f"[{index}]")
                raise
            values.append(item)
        return tuple(values), after

    def dump(self, value: object) -> object:
        if type(value) is not tuple:
            raise _Bad("must be a tuple", _show(value))
        self._check(len(value), f"{len(value)} items")
        dump = self.item.dump
        items: list[object] = []
        for index, item in enumerate(value):
            try:
                items.append(dump(item))
            except _Bad as e:
                e.path.append(f"[{index}]")
                raise
        return items




class Struct(Kind):
    """A map with one text key per field of the dataclass ``cls``, each
    carried as that field's kind; every key present, no other key.
    ``check``, if given, checks relations between fields (it raises _Bad)."""

    def __init__(self, cls: type, check: Callable[[Any], None] | None = None) -> None:
        self.cls = cls
        self.kinds = field_kinds(cls)
        self.check = check
        self._longest = max((len(name.encode()) for name in self.kinds), default=0)
        keys = {name: cbor2.dumps(name) for name in self.kinds}
        # Canonical order: by encoded length, then bytewise.
        self.keys_in_order = sorted(keys.items(), key=lambda item: (len(item[1]), item[1]))

    def read(self, buf: _Buf, pos: int, end: int, items: _Items) -> tuple[Any, int]:
        major, count, after = _head(buf, pos, end)
        if major != 5:
            raise _expected("a map", buf, major, count, after, end)
        items.left -= 2 * count
        if items.left < 0:
            raise _too_many(buf, major, count, after, end, items)
        values: dict[str, Any] = {}
        previous: tuple[int, str] | None = None
        for _ in range(count):
            key, size, after = _key(buf, after, end, self._longest)
            _in_order(previous, (size, key), key)
            previous = (size, key)
            kind = self.kinds.get(key)
            if kind is None:
                raise _Bad("unknown key", repr(key))
            try:
                values[key], after = kind.read(buf, after, end, items)
            except _Bad as e:
                e.path.append("." + key)
                raise
        if len(values) != len(self.kinds):
            missing = [name for name in self.kinds if name not in values]
            raise _Bad("missing " + ", ".join(missing))
        value = self.cls(**values)
        if self.check is not None:
            self.check(value)
        return value, after

    def dump(self, value: object) -> object:
        if type(value) is not self.cls:
            raise _Bad(f"must be a {self.cls.__name__}", _show(value))
        entries: dict[str, object] = {}
        for name, kind in self.kinds.items():
            try:
                entries[name] = kind.dump(getattr(value, name))
            except _Bad as e:
                e.path.append("." + name)
                raise
        if self.check is not None:
            self.check(value)
        return entries


class Pair(Kind):
    """An array holding the fields of the dataclass ``cls`` in order."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.kinds = field_kinds(cls)

    def read(self, buf: _Buf, pos: int, end: int, items: _Items) -> tuple[Any, int]:
        major, count, after = _head(buf, pos, end)
        if major != 4 or count != len(self.kinds):
            raise _expected(f"an array of {len(self.kinds)} items", buf, major, count, after, end)
        items.left -= count
        if items.left < 0:
            raise _too_many(buf, major, count, after, end, items)
        values: dict[str, Any] = {}
        for name, kind in self.kinds.items():
            try:
                values[name], after = kind.read(buf, after, end, items)
            except _Bad as e:
                e.path.append("." + name)
                raise
        return self.cls(**values), after

    def dump(self, value: object) -> object:
        if type(value) is not self.cls:
            raise _Bad(f"must be a {self.cls.__name__}", _show(value))
        items: list[object] = []
        for name, kind in self.kinds.items():
            try:
                items.append(kind.dump(getattr(value, name)))
            except _Bad as e:
                e.path.append("." + name)
                raise
        return items


class Body(Kind):
    """A free-form map with text keys: at most ``max_size`` bytes encoded and
    ``max_depth`` levels of nesting (the map itself is the first), holding
    only unsigned integers, text, bytes, true/false/null, arrays and maps.
    Decoded as a dict (a fresh one per frame), its arrays as lists."""

    def __init__(self, max_size: int = MAX_BODY, max_depth: int = MAX_BODY_DEPTH) -> None:
        self.max_size, self.max_depth = max_size, max_depth

    def read(self, buf: _Buf, pos: int, end: int, items: _Items) -> tuple[Any, int]:
        if pos < end and buf[pos] >> 5 != 5:
            major, arg, after = _head(buf, pos, end)
            raise _expected("a map", buf, major, arg, after, end)
        limit = min(end, pos + self.max_size)
        try:
            return _any(buf, pos, limit, self.max_depth, items)
        except _Truncated as e:
            if limit < end:
                raise _Bad(f"more than {self.max_size} bytes encoded") from e
            raise

    def dump(self, value: object) -> object:
        if not isinstance(value, Mapping):
            raise _Bad("must be a mapping", _show(value))
        plain, size = _plain(value, self.max_depth)
        if size > self.max_size:
            raise _Bad(f"more than {self.max_size} bytes encoded", f"{size} bytes")
        return plain



class Maybe(Kind):
    """A value of ``kind``, or null (None in Python)."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind

    def read(self, buf: _Buf, pos: int, end: int, items: _Items) -> tuple[Any, int]:
        if pos < end and buf[pos] == 0xF6:
            return None, pos + 1
        return self.kind.read(buf, pos, end, items)

    def dump(self, value: object) -> object:
        return None if value is None else self.kind.dump(value)


def wire(kind: Kind) -> dict[str, Kind]:
    """A dataclass field's metadata: how the field is carried
    (``field(metadata=wire(UInt()))``)."""
    return {"wire": kind}


def field_kinds(cls: type) -> dict[str, Kind]:
    """The fields of a declared dataclass and how each is carried, in order."""
    return {f.name: f.metadata["wire"] for f in fields(cls)}


def count_items(value: object) -> int:
    """How many CBOR data items a plain value is when encoded: 1 for a scalar;
    for an array, 1 and its items'; for a map, 1 and its keys' and values'."""
    if isinstance(value, Mapping):
        return 1 + sum(1 + count_items(item) for item in value.values())
    if isinstance(value, list | tuple):
        return 1 + sum(count_items(item) for item in value)
    return 1


def _cbor_head(major: int, arg: int) -> bytes:
    """A CBOR head in its shortest form."""
    if arg < 24:
        return bytes([major << 5 | arg])
    width = _head_size(arg) - 1
    return bytes([major << 5 | _CODES[width]]) + arg.to_bytes(width, "big")


class FrameCodec:
    """One protocol's frames to bytes and back.

    ``frame_types`` are the protocol's frame dataclasses (each with a unique
    ``TYPE``); ``checks`` relate fields of a frame to each other (they raise
    through :func:`check_failed`); ``split_bytes``: a bytes field at least this
    long is sent as a piece of its own by :meth:`encode_parts`, uncopied.
    """

    def __init__(self, name: str, frame_types: Sequence[type], *, max_frame: int,
                 max_items: int, split_bytes: int = 16 * 1024,
                 checks: Mapping[type, Callable[[Any], None]] | None = None,
                 errors: ErrorKinds = ErrorKinds()) -> None:
        self.name = name
        self.frame_types = tuple(frame_types)
        self.max_frame = max_frame
        self.max_items = max_items
        self.split_bytes = split_bytes
        self.errors = errors
        checks = checks or {}
        self._structs: dict[type, Struct] = {cls: Struct(cls, checks.get(cls))
                                             for cls in self.frame_types}
        self._by_type: dict[int, type] = {}
        for cls in self.frame_types:
            number = cls.TYPE  # type: ignore[attr-defined]
            if number in self._by_type:
                raise ValueError(f"{name}: frame type {number} is declared twice")
            self._by_type[number] = cls

    # -- to bytes --------------------------------------------------------------------

    def _dump(self, frame: object) -> tuple[Struct, dict[str, Any]]:
        struct = self._structs.get(type(frame))
        if struct is None:
            raise self.errors.unknown("not a frame", value=type(frame).__name__)
        try:
            body = struct.dump(frame)
        except _Bad as e:
            raise self.errors.malformed(e.problem, frame=struct.cls.__name__, field=e.where(),
                                        value=e.value) from None
        return struct, cast(dict[str, Any], body)

    def _dumps(self, struct: Struct, value: object) -> bytes:
        try:
            return cbor2.dumps(value, canonical=True)
        except (cbor2.CBOREncodeError, ValueError, TypeError) as e:  # not expected once checked
            raise self.errors.malformed(f"cannot be encoded: {e}",
                                        frame=struct.cls.__name__) from e

    def _check_whole(self, struct: Struct, size: int, plain: list[Any]) -> None:
        """Refuse a frame the peer must refuse for its size or its number of items."""
        if size > self.max_frame:
            raise self.errors.too_large(f"{size} bytes encoded; the limit is {self.max_frame}",
                                        frame=struct.cls.__name__)
        # Every item takes a byte at least: only a longer frame can hold too many.
        if size > self.max_items:
            items = count_items(plain)
            if items > self.max_items:
                raise self.errors.malformed(
                    f"more than {self.max_items} CBOR data items in one frame",
                    frame=struct.cls.__name__, value=f"{items} items")

    def encode(self, frame: object) -> bytes:
        """The complete frame: the length prefix, then canonical CBOR.

        Raises ``errors.malformed`` when a field is out of its bounds or of the
        wrong type or the frame holds too many data items, ``errors.too_large``
        when it would exceed ``max_frame``, and ``errors.unknown`` for an
        object that is not one of this protocol's frames.
        """
        struct, body = self._dump(frame)
        plain = [struct.cls.TYPE, body]  # type: ignore[attr-defined]
        payload = self._dumps(struct, plain)
        self._check_whole(struct, len(payload), plain)
        return len(payload).to_bytes(PREFIX_SIZE, "big") + payload

    def encode_parts(self, frame: object) -> list[bytes]:
        """The complete frame as pieces whose concatenation is :meth:`encode`'s
        bytes: a field holding at least ``split_bytes`` of bytes is a piece of
        its own, the very object the frame holds, so sending it copies none of
        it. Raises what :meth:`encode` raises."""
        struct, body = self._dump(frame)
        number: int = struct.cls.TYPE  # type: ignore[attr-defined]
        plain = [number, body]
        split = self.split_bytes
        if not any(type(value) is bytes and len(value) >= split for value in body.values()):
            payload = self._dumps(struct, plain)
            self._check_whole(struct, len(payload), plain)
            return [len(payload).to_bytes(PREFIX_SIZE, "big") + payload]
        parts: list[bytes] = []
        head = bytearray(_cbor_head(4, 2) + _cbor_head(0, number) + _cbor_head(5, len(body)))
        for name, key in struct.keys_in_order:
            head += key
            value = body[name]
            if type(value) is bytes and len(value) >= split:
                head += _cbor_head(2, len(value))
                parts += [bytes(head), value]
                head = bytearray()
            else:
                head += self._dumps(struct, value)
        parts.append(bytes(head))
        size = sum(len(part) for part in parts)
        self._check_whole(struct, size, plain)
        parts[0] = size.to_bytes(PREFIX_SIZE, "big") + parts[0]
        return [part for part in parts if part]

    # -- from bytes ------------------------------------------------------------------

    def _decode(self, buf: _Buf, pos: int, end: int) -> Any:
        if end - pos > self.max_frame:
            raise self.errors.too_large(f"{end - pos} bytes; the limit is {self.max_frame}")
        name: str | None = None
        try:
            major, count, after = _head(buf, pos, end)
            if major != 4 or count != 2:
                raise _expected("a frame: [type, body]", buf, major, count, after, end)
            major, number, after = _head(buf, after, end)
            if major != 0:
                raise _expected("a frame type", buf, major, number, after, end)
            cls = self._by_type.get(number)
            if cls is None:
                raise self.errors.unknown(f"frame type {number} is not defined in {self.name}")
            name = cls.__name__
            # The frame's array, its type and its body are three items.
            frame, after = self._structs[cls].read(
                buf, after, end, _Items(self.max_items - 3, self.max_items))
            if after != end:
                raise _Bad("bytes after the end of the frame", f"{end - after} bytes")
            return frame
        except _Bad as e:
            raise self.errors.malformed(e.problem, frame=name, field=e.where(),
                                        value=e.value) from None
        except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError,
                MemoryError) as e:  # the checks above should leave none of these
            raise self.errors.malformed(f"not a valid frame ({type(e).__name__}: {e})",
                                        frame=name) from e

    def decode_body(self, payload: bytes | bytearray | memoryview) -> Any:
        """Decode the CBOR part of a frame (what follows the length prefix), from
        any bytes-like object; nothing in the frame refers to ``payload`` after.

        Raises ``errors.too_large`` (over ``max_frame``), ``errors.unknown``
        or ``errors.malformed``; never any other exception.
        """
        buf = _readable(payload)
        return self._decode(buf, 0, len(buf))

    def decode(self, data: bytes | bytearray | memoryview) -> Any:
        """Decode exactly one complete frame, length prefix included.

        Raises ``errors.malformed`` when the prefix does not match the length
        of ``data``, and otherwise what :meth:`decode_body` raises.
        """
        buf = _readable(data)
        if len(buf) < PREFIX_SIZE:
            raise self.errors.malformed("shorter than the length prefix",
                                        value=f"{len(buf)} bytes")
        size = int.from_bytes(buf[:PREFIX_SIZE], "big")
        if size > self.max_frame:
            raise self.errors.too_large(f"the prefix announces {size} bytes; the limit is "
                                        f"{self.max_frame}")
        if size != len(buf) - PREFIX_SIZE:
            raise self.errors.malformed(f"the prefix announces {size} bytes",
                                        value=f"{len(buf) - PREFIX_SIZE} bytes")
        return self._decode(buf, PREFIX_SIZE, len(buf))


def check_failed(problem: str, field: str, value: object) -> _Bad:
    """The error a frame's ``check`` raises for field ``field`` (a relation
    between its fields that does not hold)."""
    error = _Bad(problem, _show(value))
    error.path.append("." + field)
    return error


def _readable(data: bytes | bytearray | memoryview) -> _Buf:
    """Bytes as they are; any other bytes-like object as a view (not a copy)."""
    if type(data) is bytes:
        return data
    view = memoryview(data)
    return view if view.format == "B" and view.ndim == 1 else view.cast("B")
