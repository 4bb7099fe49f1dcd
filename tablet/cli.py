"""``sallyport tablet``: the tablet's own software, on a simulated tablet."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

READY = "ready"  # printed once the tablet's end of the cable is open


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "tablet", help="the tablet's software (on a simulated tablet)",
        description="The locked tablet's software, run on a simulated tablet's device "
        "directory (its key, certificate and storage).")
    sub = parser.add_subparsers(dest="tablet_command", required=True, metavar="COMMAND")
    p = sub.add_parser(
        "link", help="answer the kiosk on the USB serial gadget",
        description="Open the tablet's end of the USB cable (its serial gadget), print "
        f"'{READY}', then answer kiosks, staff workstations and release tokens on it "
        "(pairing, then the sync session) until the cable is unplugged. Each session "
        "is logged on stderr.")
    p.add_argument("--device-dir", type=Path, required=True,
                   help="the tablet's device directory (see tablet/device.py)")
    p.add_argument("--tty", required=True, help="the gadget's tty, e.g. /dev/pts/7")
    p.set_defaults(func=cmd_link)
    p = sub.add_parser(
        "ui", help="the tablet's touchscreen",
        description="Open the tablet's touchscreen (a 600x1024 portrait window) on the "
        "content in its device directory: conversations, photos, replies written for the "
        "next dock, music and videos, and this tablet's battery, storage and lock state. "
        "It redraws by itself when a dock changes what it shows.")
    p.add_argument("--device-dir", type=Path, required=True,
                   help="the tablet's device directory (see tablet/device.py)")
    p.add_argument("--silent", action="store_true",
                   help="play media to libvlc's dummy outputs (no sound, no video window)")
    p.set_defaults(func=cmd_ui)


def cmd_link(args: argparse.Namespace) -> int:
    from hw.serial_link import open_link
    from tablet.device import TabletDirectory
    from tablet.peer import serve_link

    directory = TabletDirectory(args.device_dir)
    if not directory.is_provisioned():
        print(f"sallyport tablet: {args.device_dir} holds no provisioned tablet",
              file=sys.stderr)
        return 2
    booted = directory.boot_firmware()  # a new image on trial runs its self-test first
    if booted is not None and (booted.marked_good or booted.rolled_back):
        print(f"firmware: slot {booted.slot}, version {booted.version}"
              f"{', marked good' if booted.marked_good else ', rolled back'}",
              file=sys.stderr, flush=True)
    peer = directory.peer()
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    with open_link(f"serial://{args.tty}") as stream:
        print(READY, flush=True)
        serve_link(peer, stream, stop=lambda: stopping,
                   on_session=lambda what: print(f"session: {what}", flush=True))
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from device_security.errors import SecurityError
    from tablet.device import TabletDirectory
    from tablet.player import TABLET_OPTIONS
    from tablet.store import StoreError
    from tablet.ui.device_context import device_context

    directory = TabletDirectory(args.device_dir)
    if not directory.is_provisioned():
        print(f"sallyport tablet: {args.device_dir} holds no provisioned tablet",
              file=sys.stderr)
        return 2
    options = (*TABLET_OPTIONS, "--aout=dummy", "--vout=dummy") if args.silent \
        else TABLET_OPTIONS
    try:
        context = device_context(directory, options)
    except (SecurityError, StoreError) as e:
        print(f"sallyport tablet: {e}", file=sys.stderr)
        return 2
    from tablet.ui.app import TabletApp  # Kivy opens its window here

    try:
        TabletApp(context).run()
    finally:
        context.close()
    return 0
