"""A real SMTP server on loopback that keeps what it receives: the simulator's
staff mailbox (aiosmtpd), in a directory of its own for the test."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from simulators.mailbox import StaffMailbox as Inbox
from simulators.ports import free_port

__all__ = ["Inbox", "free_port", "smtp_server"]


@contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    with tempfile.TemporaryDirectory() as directory, Inbox(Path(directory)) as inbox:
        yield inbox, inbox.port
