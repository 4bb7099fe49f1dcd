"""Text from outside shown on one line: in a log, an email's headers and body.

A tablet's USB descriptors say whatever their maker wrote; a resident's name
and a kiosk's location code come from a database someone typed into. Shown
as they are, a line break in one of them would add a header to an alert
email, stop the email from being built at all, or start a log line of the
attacker's choosing. :func:`printable` is the one place such text is made
safe to show: every character that is not printable (line breaks, other
control characters, bidirectional overrides and other format characters,
line and paragraph separators) is written as its escape, and a backslash as
two, so an escape cannot be forged either. :class:`OneLineFormatter` does the
same to every log message a process writes.
"""

from __future__ import annotations

import logging

_NAMED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
CUT = "..."


def printable(value: object, limit: int | None = 200) -> str:
    """``value`` as one line of printable text, at most ``limit`` characters
    (None: any length; a longer text is cut and ends in ``...``)."""
    text = value if isinstance(value, str) else str(value)
    if limit is not None:
        text = text[:limit + 1]  # every character becomes one or more
    out = []
    for ch in text:
        named = _NAMED.get(ch)
        if named is not None:
            out.append(named)
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else
                       f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    line = "".join(out)
    if limit is not None and len(line) > limit:
        line = line[:max(0, limit - len(CUT))] + CUT
    return line


class OneLineFormatter(logging.Formatter):
    """A log formatter under which one record is one line: its message is
    passed through :func:`printable`, and the lines of a traceback that
    follow it start with ``  | ``, so no text inside a record can look like
    the start of another."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        message = record.message
        record.message = printable(message, limit=None)
        try:
            return super().formatMessage(record)
        finally:
            record.message = message

    def formatException(self, ei: logging._SysExcInfoType) -> str:
        return _continued(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return _continued(super().formatStack(stack_info))


def _continued(text: str) -> str:
    return "\n".join("  | " + printable(line, limit=None) for line in text.splitlines())
