"""A free TCP port on loopback, for the servers a simulated world starts."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port no one listens on right now (another process may take it first)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
