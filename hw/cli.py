"""``sallyport hw``: what a technician runs to see what is docked."""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hw.config import HwConfig
from hw.errors import HwError
from hw.records import DockedDevice, HotplugEvent

CLASS_NAMES = {
    0x02: "cdc-comm",
    0x03: "hid",
    0x08: "mass-storage",
    0x0A: "cdc-data",
    0xE0: "wireless",
    0xFF: "vendor",
}


def class_name(cls: int) -> str:
    return CLASS_NAMES.get(cls, f"0x{cls:02x}")


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "hw",
        help="see docked tablets through the hardware layer",
        description="See docked tablets as the kiosk's hardware layer sees them (udev, "
        "USB descriptors, serial ttys).",
    )
    parser.add_argument("--config", type=Path, default=os.environ.get("SALLYPORT_CONFIG"),
                        help="a TOML file with a [hw] table (default: $SALLYPORT_CONFIG)")
    # The command line loads this configuration (file, then environment) and
    # passes it to the command.
    parser.set_defaults(config_class=HwConfig, config_section="hw", config_prefix="SALLYPORT_HW")
    sub = parser.add_subparsers(dest="hw_command", required=True, metavar="COMMAND")
    listing = sub.add_parser("list", help="list docked tablets",
                             description="List the tablets docked now, with their USB serial "
                             "number, tty, interface classes and sysfs path.")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.add_argument("--no-descriptors", action="store_true",
                         help="do not read USB descriptors over pyusb (udev only)")
    listing.set_defaults(func=cmd_list)
    watch = sub.add_parser("watch", help="show tablets arriving and leaving",
                           description="Print a line each time a tablet arrives or leaves, "
                           "until interrupted.")
    watch.add_argument("--json", action="store_true", help="one JSON object per line")
    watch.add_argument("--seconds", type=float, default=None,
                       help="stop after this many seconds (default: run until Ctrl-C)")
    watch.set_defaults(func=cmd_watch)


def _device_json(device: DockedDevice) -> dict[str, Any]:
    data = asdict(device)
    data["usb_id"] = str(device.usb_id)
    data["interface_classes"] = [class_name(c) for c in device.interface_classes]
    return data


def cmd_list(args: argparse.Namespace, config: HwConfig) -> int:
    from hw.hotplug import UdevHotplug
    from hw.usb_descriptors import DescriptorReader, load_backend

    devices = UdevHotplug(config.matches()).scan()
    reader = None if args.no_descriptors else DescriptorReader(load_backend(config.usb_backend))
    rows = []
    for device in devices:
        row = _device_json(device)
        if reader is not None:
            try:
                desc = reader.read(device.bus, device.address, identity=device.identity)
                row["descriptor_serial"] = desc.serial
                row["product"] = desc.product
            except HwError as e:
                row["descriptor_error"] = str(e)
        rows.append(row)
    if args.json:
        for row in rows:
            print(json.dumps(row, sort_keys=True))
        return 0
    if not rows:
        print("No tablets docked.")
        return 0
    header: tuple[str, ...] = ("SERIAL", "TTY", "INTERFACES", "USB", "SYSFS PATH")
    table: list[tuple[str, ...]] = [header] + [
        (
            str(r["serial"] or "(none)"),
            str(r["tty"] or "(no tty)"),
            ",".join(r["interface_classes"]) or "(none)",
            f"{r['bus']:03d}:{r['address']:03d} {r['usb_id']}",
            str(r["sys_path"]),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for line in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
    for r in rows:
        if "descriptor_error" in r:
            print(f"warning: {r['serial']}: {r['descriptor_error']}", file=sys.stderr)
        elif reader is not None and r.get("descriptor_serial") != r["serial"]:
            print(f"warning: {r['serial']}: descriptors say serial {r['descriptor_serial']!r}",
                  file=sys.stderr)
    return 0


def cmd_watch(args: argparse.Namespace, config: HwConfig) -> int:
    from hw.hotplug import UdevHotplug

    source = UdevHotplug(config.matches(), poll_interval=config.poll_interval,
                         settle=config.settle)
    events: queue.SimpleQueue[HotplugEvent] = queue.SimpleQueue()
    source.start(events.put)
    mode = "udev events" if source.using_events else f"polling every {config.poll_interval} s"
    if not args.json:
        print(f"Watching for tablets ({mode}); Ctrl-C to stop.", flush=True)
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    try:
        while deadline is None or time.monotonic() < deadline:
            wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
            try:
                event = events.get(timeout=wait)
            except queue.Empty:
                continue
            if args.json:
                print(json.dumps({"event": event.kind, **_device_json(event.device)},
                                 sort_keys=True), flush=True)
            else:
                d = event.device
                classes = ",".join(class_name(c) for c in d.interface_classes)
                print(f"{time.strftime('%H:%M:%S')} {event.kind:8} {d.serial or '(no serial)'} "
                      f"tty={d.tty or '-'} interfaces={classes or '-'} {d.sys_path}", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        source.stop()
    return 0
