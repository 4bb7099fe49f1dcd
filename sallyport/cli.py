"""The ``sallyport`` command. Each part adds its own subcommand here."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from base.config import ConfigError, load_config
from central.errors import CentralError
from device_security.errors import SecurityError
from device_security.text import OneLineFormatter
from hw.errors import HwError
from simulators.errors import SimError


def build_parser() -> argparse.ArgumentParser:
    from central import cli as central_cli
    from devkit import demo
    from firmware_images import cli as firmware_cli
    from hw import cli as hw_cli
    from kiosk import cli as kiosk_cli
    from kiosk import sync_cli
    from sallyport import device_cli
    from simulators import cli as sim_cli
    from tablet import cli as tablet_cli

    parser = argparse.ArgumentParser(
        prog="sallyport",
        description="Sallyport: kiosks, locked tablets and the central server, "
        "with simulated hardware for development.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-v: info, -vv: debug)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    hw_cli.register(commands)
    sim_cli.register(commands)
    device_cli.register(commands)
    central_cli.register(commands)
    firmware_cli.register(commands)
    sync_cli.register(commands)
    kiosk_cli.register(commands)
    tablet_cli.register(commands)
    demo.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    handler = logging.StreamHandler()  # one record a line, whatever text it carries
    handler.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])
    try:
        if getattr(args, "config_class", None) is not None:
            config = load_config(args.config_class, path=args.config,
                                 section=args.config_section, env=os.environ,
                                 prefix=args.config_prefix)
            result: int = args.func(args, config)
        else:
            result = args.func(args)
    except (HwError, ConfigError, SimError, SecurityError, CentralError) as e:
        print(f"sallyport: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file or directory the user named
        print(f"sallyport: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    return result
