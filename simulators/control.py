"""The harness's control socket: one JSON object per line, each way.

A request is ``{"op": NAME, ...arguments}``; the reply is ``{"ok": true,
"result": ...}`` or ``{"ok": false, "error": MESSAGE}``. Lines are bounded
and every argument is checked before it reaches the world, so a bad request
gets an error reply and never takes the harness down.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simulators.errors import ControlProtocolError, HarnessNotRunning, SimError
from simulators.link import Fault
from simulators.world import World, read_state

log = logging.getLogger(__name__)

MAX_LINE = 64 * 1024
SOCKET_NAME = "control.sock"


def _int(args: dict[str, Any], key: str, *, default: int | None = None) -> int | None:
    value = args.get(key, default)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ControlProtocolError(f"{key} must be a whole number, got {value!r}")
    return value


def _str(args: dict[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str) or not value or len(value) > 64:
        raise ControlProtocolError(f"{key} must be a short text, got {value!r}")
    return value


def _fault(args: dict[str, Any]) -> Fault | None:
    if args.get("clear"):
        return None
    delay = args.get("delay_s", 0.0)
    if isinstance(delay, bool) or not isinstance(delay, int | float):
        raise ControlProtocolError(f"delay_s must be a number, got {delay!r}")
    return Fault(
        direction=args.get("direction", "both"),
        drop_at=_int(args, "drop_at"),
        corrupt_at=_int(args, "corrupt_at"),
        delay_s=float(delay),
        stall=bool(args.get("stall", False)),
    )


class ControlServer:
    """Answers control requests for a world on a Unix socket in its directory."""

    def __init__(self, world: World, *, on_shutdown: Callable[[], None]) -> None:
        self.world = world
        self.path = world.directory / SOCKET_NAME
        self._on_shutdown = on_shutdown
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.path.unlink(missing_ok=True)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(self.path))
        os.chmod(self.path, 0o600)
        self._sock.listen(16)
        self.world.control_socket = str(self.path)
        self.world.publish()
        self._thread = threading.Thread(target=self._accept, args=(self._sock,),
                                        name="control", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.path.unlink(missing_ok=True)

    def _accept(self, sock: socket.socket) -> None:
        # The thread keeps its own reference: stop() clears the attribute.
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), name="control-conn",
                             daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn, conn.makefile("rwb") as stream:
            while True:
                line = stream.readline(MAX_LINE + 1)
                if not line:
                    return
                if len(line) > MAX_LINE or not line.endswith(b"\n"):
                    reply = {"ok": False, "error": f"request longer than {MAX_LINE} bytes"}
                    stream.write(json.dumps(reply).encode() + b"\n")
                    stream.flush()
                    return
                reply = self.handle_line(line)
                stream.write(json.dumps(reply).encode() + b"\n")
                stream.flush()

    def handle_line(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("op"), str):
                raise ControlProtocolError("a request is a JSON object with an op")
            result = self.handle(request["op"], request)
        except (SimError, ValueError) as e:  # JSONDecodeError is a ValueError
            return {"ok": False, "error": str(e)}
        return {"ok": True, "result": result}

    def handle(self, op: str, args: dict[str, Any]) -> Any:
        world = self.world
        if op == "status":
            return world.status()
        if op == "add_tablet":
            extras = args.get("extras", [])
            if not isinstance(extras, list) or not all(isinstance(e, str) for e in extras):
                raise ControlProtocolError("extras must be a list of names")
            tablet = world.add_tablet(
                args.get("name"), args.get("serial"), extras=tuple(extras),
                **({"usb_serial": _str(args, "usb_serial")} if args.get("usb_serial") else {}))
            return {"name": tablet.spec.name, "serial": tablet.spec.serial}
        if op == "plug":
            world.plug(_str(args, "tablet"), _int(args, "port"))
            return world.status()["tablets"][world.tablet(args["tablet"]).spec.name]
        if op == "unplug":
            world.unplug(_str(args, "tablet"))
            return None
        if op == "reset":
            if "tablet" in args:
                world.reset_port(_str(args, "tablet"))
            else:
                world.reset_by_address(_int(args, "bus") or 0, _int(args, "address") or 0)
            return None
        if op == "fault":
            world.set_fault(_str(args, "tablet"), _fault(args))
            return None
        if op == "battery":
            percent = _int(args, "percent")
            world.set_battery(_str(args, "tablet"), percent if percent is not None else -1)
            return None
        if op == "screen":
            if args.get("close") is True:
                world.close_screen(_str(args, "tablet"))
                return None
            return {"pid": world.open_screen(_str(args, "tablet"))}
        if op == "swipe":
            world.badge_reader.swipe(_str(args, "badge"))
            return None
        if op == "stick":
            state = _str(args, "state")
            if state not in ("in", "out"):
                raise ControlProtocolError("state must be in or out")
            world.stick.put_back() if state == "in" else world.stick.pull()
            world.publish()
            return None
        if op == "network":
            if world.network is None:
                raise SimError("this world has no network switch (start it with --central)")
            state = _str(args, "state")
            if state not in ("up", "down"):
                raise ControlProtocolError("state must be up or down")
            world.network.restore() if state == "up" else world.network.cut()
            return None
        if op == "shutdown":
            threading.Thread(target=self._on_shutdown, name="shutdown", daemon=True).start()
            return None
        raise ControlProtocolError(f"unknown op {op!r}")


class ControlClient:
    """Talks to a running harness."""

    def __init__(self, path: Path, *, timeout: float = 10.0) -> None:
        self.path = path
        self.timeout = timeout

    @classmethod
    def for_world(cls, directory: Path) -> ControlClient:
        state = read_state(directory)
        control = state.get("control")
        if not control:
            raise HarnessNotRunning(f"the world in {directory} has no harness running")
        return cls(Path(control))

    def call(self, op: str, **args: Any) -> Any:
        """Send one request; return its result or raise SimError with its error."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(self.timeout)
                sock.connect(str(self.path))
                sock.sendall(json.dumps({"op": op, **args}).encode() + b"\n")
                with sock.makefile("rb") as stream:
                    line = stream.readline(MAX_LINE + 1)
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise HarnessNotRunning(f"no harness answers at {self.path}") from e
        except OSError as e:
            raise SimError(f"talking to the harness at {self.path}: {e}") from e
        try:
            reply = json.loads(line)
        except ValueError as e:
            raise ControlProtocolError(f"the harness sent {line[:80]!r}") from e
        if not isinstance(reply, dict) or "ok" not in reply:
            raise ControlProtocolError(f"the harness sent {reply!r}")
        if not reply["ok"]:
            raise SimError(str(reply.get("error")))
        return reply.get("result")
