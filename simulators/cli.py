"""``sallyport sim``: the simulator harness."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any


def register(commands: Any) -> None:
    from simulators.addresses import default_world

    parser = commands.add_parser(
        "sim", help="simulated tablets and kiosk hardware",
        description="Start a simulated world (tablets, dock ports, badge reader, printer, "
        "network switch), plug and unplug tablets, inject faults, run scenarios.")
    parser.add_argument("--world", type=Path, default=default_world(),
                        help="the world's directory (default: $SALLYPORT_SIM_WORLD or "
                        "%(default)s)")
    sub = parser.add_subparsers(dest="sim_command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="start the harness", description="Start the harness with "
                        "N tablets in the background (or in the foreground).")
    up.add_argument("--tablets", type=int, default=2, help="tablets to create (default 2)")
    up.add_argument("--ports", type=int, default=2, help="dock ports on the kiosk (default 2)")
    up.add_argument("--central", metavar="HOST:PORT",
                    help="put a network switch in front of this central server")
    up.add_argument("--foreground", action="store_true", help="run here until Ctrl-C")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop the harness", description="Stop the harness; "
                          "tablets are unplugged, their storage stays.")
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", help="show tablets, ports and links",
                            description="Show the world's tablets, what is plugged where, "
                            "and bytes moved on each link.")
    status.add_argument("--json", action="store_true", help="print the state as JSON")
    status.set_defaults(func=cmd_status)

    add = sub.add_parser("add", help="add a tablet", description="Add a tablet to the world.")
    add.add_argument("name", nargs="?", help="its name (default: the next Tn)")
    add.add_argument("--serial", help="its serial number (default: generated)")
    add.add_argument("--usb-serial", help="a different serial in its USB descriptors "
                     "(a spoofed device)")
    add.add_argument("--extra", action="append", default=[], choices=["keyboard", "storage"],
                     help="an extra USB function (a tampered, composite device)")
    add.set_defaults(func=cmd_add)

    plug = sub.add_parser("plug", help="plug a tablet into a dock port",
                          description="Plug tablet T into PORT (default: the first free one).")
    plug.add_argument("tablet", metavar="T", help="tablet name or serial")
    plug.add_argument("port", metavar="PORT", nargs="?", type=int, help="dock port number")
    plug.set_defaults(func=cmd_plug)

    unplug = sub.add_parser("unplug", help="unplug a tablet",
                            description="Unplug tablet T; its link drops at once.")
    unplug.add_argument("tablet", metavar="T", help="tablet name or serial")
    unplug.set_defaults(func=cmd_unplug)

    screen = sub.add_parser(
        "screen", help="open a tablet's touchscreen",
        description="Open tablet T's touchscreen (sallyport tablet ui, media to dummy "
        "outputs) on the harness's display, or close it with --close. It shows what the "
        "tablet's last dock left on it, and redraws after each dock.")
    screen.add_argument("tablet", metavar="T", help="tablet name or serial")
    screen.add_argument("--close", action="store_true", help="close it instead")
    screen.set_defaults(func=cmd_screen)

    panel = sub.add_parser(
        "panel", help="a window to plug tablets in and out",
        description="Open a small window on the running harness: plug and unplug each "
        "tablet, open its touchscreen, cut and restore the kiosk's network, swipe the "
        "technician badge.")
    panel.set_defaults(func=cmd_panel)

    reset = sub.add_parser("reset", help="reset a tablet's USB port",
                           description="Reset T's USB port: its tty goes and comes back.")
    reset.add_argument("tablet", metavar="T", help="tablet name or serial")
    reset.set_defaults(func=cmd_reset)

    fault = sub.add_parser("fault", help="inject a fault on a tablet's link",
                           description="Inject a fault on T's link. Byte offsets count "
                           "from now.")
    fault.add_argument("tablet", metavar="T", help="tablet name or serial")
    fault.add_argument("--direction", choices=["down", "up", "both"], default="both",
                       help="down: kiosk to tablet; up: tablet to kiosk (default both)")
    fault.add_argument("--drop-at", type=int, metavar="N", help="unplug after N bytes")
    fault.add_argument("--corrupt-at", type=int, metavar="N", help="flip the bits of byte N")
    fault.add_argument("--delay", type=float, default=0.0, metavar="MS",
                       help="hold each chunk MS milliseconds")
    fault.add_argument("--stall", action="store_true", help="stop forwarding until cleared")
    fault.add_argument("--clear", action="store_true", help="remove the fault")
    fault.set_defaults(func=cmd_fault)

    swipe = sub.add_parser("swipe", help="swipe a badge at the kiosk's reader",
                           description="Send a badge id from the kiosk's badge reader.")
    swipe.add_argument("badge", help="the badge id")
    swipe.set_defaults(func=cmd_swipe)

    stick = sub.add_parser("stick", help="pull the kiosk's USB stick out or put it back",
                           description="Pull the USB stick out of the kiosk's port (out), "
                           "at once, even in the middle of a write, or put it back (in), "
                           "mounted afresh.")
    stick.add_argument("state", choices=["in", "out"])
    stick.set_defaults(func=cmd_stick)

    network = sub.add_parser("network", help="cut or restore the kiosk's network",
                             description="Cut (down) or restore (up) the kiosk's link to "
                             "the central server.")
    network.add_argument("state", choices=["up", "down"])
    network.set_defaults(func=cmd_network)

    run = sub.add_parser("run", help="run a scenario file",
                         description="Run the steps of a scenario file (TOML) against the "
                         "harness; see simulators/scenario.py for the format.")
    run.add_argument("scenario", type=Path, help="the scenario file")
    run.set_defaults(func=cmd_run)

    exe = sub.add_parser("exec", help="run a command inside the simulated world",
                         description="Run a command that sees the world's USB devices as "
                         "real ones (udev, pyusb, ttys), e.g.: sallyport sim exec -- "
                         "sallyport hw list")
    exe.add_argument("cmd", nargs=argparse.REMAINDER, help="the command and its arguments")
    exe.set_defaults(func=cmd_exec)


def _client(args: argparse.Namespace) -> Any:
    from simulators.control import ControlClient

    return ControlClient.for_world(args.world)


def _print_status(state: dict[str, Any]) -> None:
    print(f"world {state['directory']} (harness pid {state['pid']}), "
          f"{state['ports']} dock ports")
    rows = [("TABLET", "SERIAL", "PORT", "KIOSK TTY", "GADGET TTY", "BATTERY", "BYTES DOWN/UP")]
    for name, t in sorted(state["tablets"].items()):
        moved = f"{t['bytes']['down']}/{t['bytes']['up']}" if t["bytes"] else "-"
        rows.append((name, t["serial"], str(t["port"] or "-"), t["kiosk_tty"] or "-",
                     t["gadget_tty"] or "-", f"{t['battery_pct']}%", moved))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print(f"badge reader {state['badge_reader']}, printer {state['printer']}")
    if state.get("network"):
        net = state["network"]
        print(f"network switch 127.0.0.1:{net['port']} -> {net['upstream'][0]}:"
              f"{net['upstream'][1]} ({'up' if net['up'] else 'DOWN'})")


def cmd_up(args: argparse.Namespace) -> int:
    from simulators import harness

    if args.foreground:
        argv = ["--world", str(args.world), "--tablets", str(args.tablets),
                "--ports", str(args.ports)] + (["--central", args.central] if args.central else [])
        return harness.main(argv)
    client = harness.spawn(args.world, tablets=args.tablets, ports=args.ports,
                           central=args.central)
    _print_status(client.call("status"))
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from simulators import harness

    harness.shut_down(args.world)
    print(f"harness for {args.world} stopping")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    state = _client(args).call("status")
    if args.json:
        print(json.dumps(state, indent=2, sort_keys=True))
    else:
        _print_status(state)
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    options: dict[str, Any] = {"extras": args.extra}
    if args.usb_serial:
        options["usb_serial"] = args.usb_serial
    result = _client(args).call("add_tablet", name=args.name, serial=args.serial, **options)
    print(f"added {result['name']} (serial {result['serial']})")
    return 0


def cmd_plug(args: argparse.Namespace) -> int:
    t = _client(args).call("plug", tablet=args.tablet, port=args.port)
    print(f"plugged {args.tablet} ({t['serial']}) into port {t['port']}: kiosk end "
          f"{t['kiosk_tty']}, tablet end {t['gadget_tty']}")
    return 0


def cmd_stick(args: argparse.Namespace) -> int:
    _client(args).call("stick", state=args.state)
    print("the USB stick is " + ("in its port" if args.state == "in" else "pulled out"))
    return 0


def cmd_unplug(args: argparse.Namespace) -> int:
    _client(args).call("unplug", tablet=args.tablet)
    print(f"unplugged {args.tablet}")
    return 0


def cmd_screen(args: argparse.Namespace) -> int:
    result = _client(args).call("screen", tablet=args.tablet, close=args.close)
    print(f"closed {args.tablet}'s screen" if args.close
          else f"opened {args.tablet}'s screen (pid {result['pid']})")
    return 0


def cmd_panel(args: argparse.Namespace) -> int:
    from simulators.panel import run

    return run(args.world)


def cmd_reset(args: argparse.Namespace) -> int:
    _client(args).call("reset", tablet=args.tablet)
    print(f"reset the port of {args.tablet}")
    return 0


def cmd_fault(args: argparse.Namespace) -> int:
    _client(args).call("fault", tablet=args.tablet, clear=args.clear, direction=args.direction,
                       drop_at=args.drop_at, corrupt_at=args.corrupt_at,
                       delay_s=args.delay / 1000.0, stall=args.stall)
    print(f"{'cleared the fault on' if args.clear else 'set a fault on'} {args.tablet}'s link")
    return 0


def cmd_swipe(args: argparse.Namespace) -> int:
    _client(args).call("swipe", badge=args.badge)
    print(f"swiped {args.badge}")
    return 0


def cmd_network(args: argparse.Namespace) -> int:
    _client(args).call("network", state=args.state)
    print(f"network {args.state}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from simulators.scenario import load_scenario, run_scenario

    steps = load_scenario(args.scenario)
    client = _client(args)
    run_scenario(steps, client.call, echo=lambda line: print(line, flush=True))
    print(f"scenario {args.scenario}: {len(steps)} steps done")
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    from simulators.udev import mock_environment
    from simulators.world import read_state

    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        print("sallyport sim exec: give a command, e.g. -- sallyport hw list", file=sys.stderr)
        return 2
    state = read_state(args.world)
    env = mock_environment(state["testbed"])
    env["SALLYPORT_SIM_WORLD"] = str(args.world)
    env["SALLYPORT_HW_USB_BACKEND"] = "sim"
    program = shutil.which(cmd[0], path=env.get("PATH")) or cmd[0]
    sys.stdout.flush()
    os.execve(program, cmd, env)
    return 127  # not reached
