"""``sallyport kiosk``: the kiosk process."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

from kiosk.i18n import LANGUAGES

log = logging.getLogger(__name__)

MAX_COMMAND = 4096  # bytes in one command line


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "kiosk", help="the kiosk: dock, sync and resident login",
        description="The kiosk of a living unit. Settings come from one TOML file: its "
        "[kiosk] table (location, unit, state, alert mail), [sync] table (central server, "
        "this kiosk's certificate, the cache) and [hw] table (which USB devices are "
        "tablets), each overridable by SALLYPORT_KIOSK_*, SALLYPORT_SYNC_* and "
        "SALLYPORT_HW_* environment variables.")
    sub = parser.add_subparsers(dest="kiosk_command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "headless", help="run the kiosk's work without its screen",
        description="Run rounds with the central server and the dock (pairing and sync "
        "of plugged tablets) without the touchscreen. Events are printed as JSON lines "
        "on stdout; commands are read as JSON lines on stdin: "
        '{"op": "login", "agency_id": "...", "pin": "..."}, '
        '{"op": "change_pin", "old_pin": "...", "new_pin": "..."}, {"op": "logout"}, '
        '{"op": "home"}, {"op": "contacts"}, {"op": "entitlements"}, '
        '{"op": "buy", "item_id": "...", "key": "..."}, '
        '{"op": "write", "contact_id": N, "body": "...", "uid": "..."}, {"op": "inbox"}, '
        '{"op": "request", "type": "medical", "body": "...", "paper": false, '
        '"language": "es"}, '
        '{"op": "requests"}, {"op": "round"}, {"op": "status"}, '
        '{"op": "stop"}. Each command is answered by a line with "reply". SIGTERM or '
        "Ctrl-C stops it; the end of stdin does not.")
    p.add_argument("--config", type=Path, help="the kiosk's TOML file")
    p.set_defaults(func=cmd_headless)

    p = sub.add_parser(
        "run", help="run the kiosk with its touchscreen",
        description="Run the kiosk: its touchscreen (1280x800, touch only) for residents "
        "and technicians, with rounds with the central server and the dock behind it. The "
        "log goes to the [kiosk] state directory's kiosk.log (the maintenance menu shows "
        "it) and to stderr.")
    p.add_argument("--config", type=Path, help="the kiosk's TOML file")
    p.add_argument("--kiosk-mode", action="store_true",
                   help="fullscreen and borderless; the window cannot be closed (for a "
                   "kiosk on a wall; the systemd unit in deploy/ uses it)")
    p.add_argument("--silent", action="store_true",
                   help="play videograms without sound (libvlc's dummy audio output)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "boot", help="start the kiosk from its A/B firmware slots (the systemd unit's start)",
        description="Let the kiosk's firmware slots choose what runs now (a new image on "
        "trial spends one of its tries; when they are spent the good slot runs again and "
        "says it rolled back), unpack that image and exec its bin/kiosk with the arguments "
        "after --, so it is the unit's main process and its own watchdog pings reach "
        "systemd. Its first watchdog period pinged without a gap marks a new slot good. "
        "docs/firmware.md, 'The kiosk's own slots'.")
    p.add_argument("--firmware", type=Path, required=True,
                   help="the kiosk's firmware directory (its slots/ and run/)")
    p.add_argument("arguments", nargs=argparse.REMAINDER,
                   help="-- then what to pass to the image's bin/kiosk")
    p.set_defaults(func=cmd_boot)

    p = sub.add_parser(
        "pin-hash", help="hash a technician PIN for the kiosk's configuration",
        description="Read a technician PIN (at least 6 digits) on stdin and print its "
        "argon2id hash, for [kiosk] technician_pin_hash.")
    p.set_defaults(func=cmd_pin_hash)


def load(path: Path | None) -> tuple[Any, Any, Any]:
    from base.config import load_config
    from hw.config import HwConfig
    from kiosk.config import KioskConfig, SyncConfig

    return (load_config(KioskConfig, path=path, section="kiosk", env=os.environ,
                        prefix="SALLYPORT_KIOSK"),
            load_config(SyncConfig, path=path, section="sync", env=os.environ,
                        prefix="SALLYPORT_SYNC"),
            load_config(HwConfig, path=path, section="hw", env=os.environ,
                        prefix="SALLYPORT_HW"))


def cmd_headless(args: argparse.Namespace) -> int:
    from kiosk.service import KioskService
    from kiosk.watchdog import Watchdog

    kiosk, sync, hw = load(args.config)
    out = sys.stdout
    watchdog = Watchdog.from_environment()
    service = KioskService(kiosk, sync, hw, emit=lambda e: _print(out, e))
    try:
        service.start()
    except ValueError as e:
        print(f"sallyport kiosk: {e}", file=sys.stderr)
        return 2
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    reader = threading.Thread(target=_commands, args=(service, sys.stdin, out, done),
                              name="commands", daemon=True)
    reader.start()
    watchdog.ready()
    while not done.wait(1.0):  # the main loop: alive while it turns
        watchdog.alive()
    service.stop()
    return 0


def cmd_boot(args: argparse.Namespace) -> int:
    """Choose the slot, then exec its program (never returns when it starts)."""
    from firmware_images.errors import FirmwareError
    from firmware_images.kiosk_boot import prepare_start

    arguments = args.arguments[1:] if args.arguments[:1] == ["--"] else args.arguments
    try:
        start = prepare_start(args.firmware)
    except FirmwareError as e:
        print(f"sallyport kiosk boot: {e}", file=sys.stderr)
        return 2  # systemd starts it again; a slot on trial has spent a try
    print(f"sallyport kiosk boot: {start.describe()}", file=sys.stderr, flush=True)
    os.execve("/bin/sh", ["/bin/sh", str(start.program), *arguments],
              {**os.environ, **start.environment(args.firmware)})


def _print(out: TextIO, event: Any) -> None:
    """An event (or a command's reply) as one JSON line."""
    line = event.as_json() if hasattr(event, "as_json") else event
    out.write(json.dumps(line, default=str) + "\n")
    out.flush()


def _commands(service: Any, stdin: TextIO, out: TextIO, done: threading.Event) -> None:
    while not done.is_set():
        line = stdin.readline(MAX_COMMAND + 1)
        if not line:
            return  # no more commands; the kiosk goes on
        if len(line) > MAX_COMMAND:
            _say(service, out, {"reply": None, "ok": False,
                                "message": f"a command is at most {MAX_COMMAND} bytes"})
            while line and not line.endswith("\n"):  # skip the rest of it
                line = stdin.readline(MAX_COMMAND + 1)
            continue
        if not line.strip():
            continue
        try:
            command = json.loads(line)
            if not isinstance(command, dict) or not isinstance(command.get("op"), str):
                raise ValueError("a command is a JSON object with an op")
            answer = run_command(service, command, done)
        except (ValueError, TypeError, KeyError) as e:
            answer = {"reply": None, "ok": False, "message": f"bad command: {e}"}
        _say(service, out, answer)


def _say(service: Any, out: TextIO, reply: dict[str, Any]) -> None:
    """A reply, never in the middle of an event's line."""
    with service.emit_lock:
        _print(out, reply)


def _text(command: dict[str, Any], name: str) -> str:
    value = command.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= 128:
        raise ValueError(f"{name} must be text of 1-128 characters")
    return value


def plain(answer: Any, name: str | None = None) -> dict[str, Any]:
    """A typed answer as the JSON a headless client reads: ``ok`` and the
    value's fields (a list under ``name``), or ``code`` and ``message``."""
    import dataclasses

    if not answer.ok:
        return {"ok": False, "code": answer.code, "message": answer.message,
                "unsure": answer.unsure}
    value = answer.value
    if isinstance(value, tuple):
        return {"ok": True, name or "value": [dataclasses.asdict(v) for v in value]}
    fields = dataclasses.asdict(value) if dataclasses.is_dataclass(value) and \
        not isinstance(value, type) else {}
    return {"ok": True, **fields, "online": answer.online}


def run_command(service: Any, command: dict[str, Any], done: threading.Event) -> dict[str, Any]:
    from kiosk.answers import Attempt

    op = command["op"]
    if op == "login":
        answer = plain(service.login(_text(command, "agency_id"), _text(command, "pin")))
    elif op == "change_pin":
        answer = plain(service.change_pin(_text(command, "old_pin"), _text(command, "new_pin")))
    elif op == "logout":
        service.logout()
        answer = {"ok": True}
    elif op == "home":
        answer = plain(service.home())
    elif op == "entitlements":
        answer = plain(service.entitlements(), "entitlements")
    elif op == "contacts":
        answer = plain(service.contacts(), "contacts")
    elif op == "buy":
        item = _text(command, "item_id")
        # A client that retries across its own restarts names the key; else the kiosk makes it.
        attempt = Attempt("buy", item, _text(command, "key")) if command.get("key") \
            else service.attempt("buy", item)
        answer = plain(service.buy(attempt), "entitlements")
    elif op == "write":
        contact = command.get("contact_id")
        body = command.get("body")
        if type(contact) is not int or not isinstance(body, str) or len(body) > 4096:
            raise ValueError("write needs contact_id (a number) and body (text)")
        uid = command.get("uid")
        letter = service.write_letter(contact, body, _text(command, "uid") if uid else None)
        answer = {"ok": letter.ok, "code": letter.code, "message": letter.message,
                  **({"uid": letter.value.uid, "state": letter.value.state}
                     if letter.value is not None else {})}
    elif op == "inbox":
        resident = service.resident
        if resident is None or not resident.ready:
            answer = {"ok": False, "code": "not_logged_in", "message": "Log in first."}
        else:
            answer = {"ok": True, "conversations": [
                {"contact_id": c.contact_id, "contact_name": c.contact_name, "unread": c.unread,
                 "messages": [{"uid": m.uid, "incoming": m.incoming, "body": m.body,
                               "state": m.state, "legal": m.legal} for m in c.messages]}
                for c in service.inbox.conversations(resident.resident_id)]}
    elif op == "request":
        type_, body = _text(command, "type"), command.get("body")
        language = command.get("language", "en")
        if not isinstance(body, str) or len(body) > 4096:
            raise ValueError("request needs type and body (text)")
        if language not in LANGUAGES:
            raise ValueError(f"language is one of {', '.join(LANGUAGES)}")
        answer = plain(service.file_request(service.request_attempt(type_, body), type_=type_,
                                            body=body, paper=command.get("paper") is True,
                                            language=str(language)))
    elif op == "requests":
        answer = plain(service.requests(), "requests")
    elif op == "round":
        r = service.run_round()
        answer = {"ok": r.reached_central, "error": r.error, "records": r.records,
                  "blobs": r.blobs, "sent_drafts": r.sent_drafts,
                  "sent_letters": r.sent_letters, "sent_requests": r.sent_requests,
                  "sent_receipts": r.sent_receipts}
    elif op == "status":
        answer = {"ok": True, **service.status()}
    elif op == "stop":
        done.set()
        answer = {"ok": True}
    else:
        raise ValueError(f"unknown op {op!r}")
    return {"reply": op, **answer}


def make_app(config: Path | None, *, kiosk_mode: bool = False, silent: bool = False,
             on_alive: Any = None) -> tuple[Any, Any]:
    """The kiosk's service, started, and its app, not yet running (for ``kiosk
    run`` and the demo's walkthrough). The log goes to the state directory's
    kiosk.log too. Raises ValueError for settings that cannot work."""
    import logging.handlers

    from device_security.text import OneLineFormatter
    from kiosk.service import KioskService

    kiosk, sync, hw = load(config)
    kiosk.state_path.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(kiosk.log_path, maxBytes=2_000_000,
                                                   backupCount=3)
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)

    from kiosk.ui import app as ui  # Kivy, and the window's configuration

    ui.configure_window(kiosk_mode=kiosk_mode)
    relay = ui.EventRelay()
    service = KioskService(kiosk, sync, hw, emit=relay, config_path=config)
    service.start()
    app = ui.KioskApp(service, relay, kiosk_mode=kiosk_mode, inactivity_s=kiosk.inactivity_s,
                      video_options=("--aout=dummy",) if silent else (), on_alive=on_alive)
    return service, app


def cmd_run(args: argparse.Namespace) -> int:
    from kiosk.watchdog import Watchdog

    watchdog = Watchdog.from_environment()
    try:
        service, app = make_app(args.config, kiosk_mode=args.kiosk_mode, silent=args.silent,
                                on_alive=watchdog.alive)
    except ValueError as e:
        print(f"sallyport kiosk: {e}", file=sys.stderr)
        return 2
    watchdog.ready()
    try:
        app.run()
    finally:
        service.stop()
    return 0


def cmd_pin_hash(args: argparse.Namespace) -> int:
    from argon2 import PasswordHasher

    pin = sys.stdin.readline().strip()
    if not (pin.isdigit() and 6 <= len(pin) <= 12):
        print("sallyport kiosk: a technician PIN is 6 to 12 digits", file=sys.stderr)
        return 2
    print(PasswordHasher().hash(pin))
    return 0
