"""The facility staff's mailbox, simulated: a real SMTP server on loopback
(aiosmtpd) that keeps every message it receives as an .eml file, so the demo
and a developer can read the alerts the kiosk mails."""

from __future__ import annotations

import email
import email.message
import email.policy
import threading
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from simulators.ports import free_port


class StaffMailbox:
    """``with StaffMailbox(directory) as box:`` serves SMTP on ``box.port``."""

    def __init__(self, directory: Path, port: int = 0) -> None:
        self.directory = directory
        self.port = port  # 0: a free one, chosen when it starts
        self._controller: Controller | None = None
        self._arrived = threading.Condition()
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._arrived:
            self.messages.append(message)
            path = self.directory / f"{len(self.messages):04d}.eml"
            path.write_bytes(envelope.content)
            self._arrived.notify_all()
        return "250 OK"

    def __enter__(self) -> StaffMailbox:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._controller is not None:
            self._controller.stop()

    def wait(self, count: int, timeout: float = 30.0) -> list[email.message.EmailMessage]:
        """The messages, once there are ``count`` (or the time is up)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < count and time.monotonic() < deadline:
                self._arrived.wait(deadline - time.monotonic())
            return list(self.messages)
