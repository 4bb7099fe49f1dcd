"""``sallyport central``: run, migrate and seed the central server."""

from __future__ import annotations

import argparse
import contextlib
import logging
from pathlib import Path
from typing import Any

from central.config import CentralConfig

log = logging.getLogger(__name__)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "central", help="the central server: serve, migrate, seed",
        description="The central server that kiosks sync with, families send to, and "
        "staff administer. Settings come from the [central] table of --config and "
        "SALLYPORT_CENTRAL_* environment variables.")
    parser.add_argument("--config", type=Path, help="a TOML file with a [central] table")
    parser.set_defaults(config_class=CentralConfig, config_section="central",
                        config_prefix="SALLYPORT_CENTRAL")
    sub = parser.add_subparsers(dest="central_command", required=True, metavar="COMMAND")
    p = sub.add_parser("serve", help="serve the HTTP API",
                       description="Serve the API (HTTPS when tls_certificate is set). The "
                       "database must be migrated first.")
    p.add_argument("--migrate", action="store_true",
                   help="bring the database schema up to date before serving")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser("migrate", help="create or upgrade the database schema",
                       description="Run the Alembic migrations up to the newest revision.")
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("seed", help="fill the database with demo data",
                       description="Add the demo facility (residents, families, staff, "
                       "kiosks, catalog). Prints the demo logins.")
    p.add_argument("--demo", action="store_true", required=True,
                   help="the demo data set (the only one there is)")
    p.add_argument("--kiosk-certificate", action="append", default=[], metavar="ID=PEM",
                   help="register a kiosk's certificate, e.g. K-CC-A1=kiosk/identity/"
                   "certificate.pem (repeatable)")
    p.add_argument("--tablet-certificate", action="append", default=[], metavar="SERIAL=PEM",
                   help="register a demo tablet with the certificate its provisioning "
                   "issued, e.g. JP5S-000001=tablets/T1/identity/certificate.pem "
                   "(repeatable); without one its receipts cannot be verified")
    p.set_defaults(func=cmd_seed)
    p = sub.add_parser("openapi", help="print the API's OpenAPI document",
                       description="Print the OpenAPI document (JSON) the server serves.")
    p.set_defaults(func=cmd_openapi)


def cmd_migrate(args: argparse.Namespace, config: CentralConfig) -> int:
    from central import migrate
    from central.database import Database

    config.state_path.mkdir(parents=True, exist_ok=True)
    db = Database(config.url)
    before = migrate.current(db)
    migrate.upgrade(db)
    after = migrate.current(db)
    print(f"database {db.url.render_as_string(hide_password=True)}: "
          f"{before or 'empty'} -> {after}")
    return 0


def _named_files(items: list[str], option: str, name: str) -> list[tuple[str, Path]]:
    """NAME=PATH pairs from a repeatable option; raises ValueError for another shape."""
    pairs = []
    for item in items:
        key, _, path = item.partition("=")
        if not key or not path:
            raise ValueError(f"{option} wants {name}=PEM, got {item!r}")
        pairs.append((key, Path(path)))
    return pairs


def cmd_seed(args: argparse.Namespace, config: CentralConfig) -> int:
    from cryptography import x509

    from central import migrate, seed
    from central.payments import SandboxCardPayments
    from central.server import build_central
    from device_security.pki import fingerprint

    try:
        prints = {kiosk_id: fingerprint(x509.load_pem_x509_certificate(path.read_bytes()))
                  for kiosk_id, path in _named_files(args.kiosk_certificate,
                                                     "--kiosk-certificate", "ID")}
        tablets = {serial: path.read_text() for serial, path in _named_files(
            args.tablet_certificate, "--tablet-certificate", "SERIAL")}
    except ValueError as e:
        print(f"sallyport central seed: {e}")
        return 2
    central = build_central(config)
    central.payments = SandboxCardPayments()  # the demo families' stamps move no money
    migrate.upgrade(central.db)
    done = seed.seed_demo(central, kiosk_fingerprints=prints, tablet_certificates=tablets)
    if done.already:
        print("the demo data is already there; nothing changed")
        return 0
    print("seeded the demo facility (DEMO credentials, for the simulator only):")
    print(f"  staff: demo-reviewer, demo-administrator, demo-technician, demo-investigator "
          f"(Cedar Creek), demo-agency (the agency's administrator) "
          f"/ {seed.DEMO_STAFF_PASSWORD!r}")
    for agency_id, name, unit, _language, pin in seed.RESIDENTS:
        print(f"  resident {agency_id} {name} ({unit}) PIN {pin} (change at first login)")
    for email, name, agency_id, _rel in seed.FAMILIES:
        print(f"  family {email} ({name}, writes to {agency_id}) / "
              f"{seed.DEMO_FAMILY_PASSWORD!r}")
    return 0


def cmd_serve(args: argparse.Namespace, config: CentralConfig) -> int:
    from central import migrate
    from central.server import CentralServer, build_central, kiosk_trust

    central = build_central(config)
    if args.migrate:
        migrate.upgrade(central.db)
    server = CentralServer(central, config, trust=kiosk_trust(config))
    scheme = "https" if config.tls_certificate else "http"
    print(f"central server on {scheme}://{config.host}:{config.port} "
          f"(database {central.db.url.render_as_string(hide_password=True)}); "
          "Ctrl-C stops it", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn stops, then passes Ctrl-C on
        server.run()
    print("central server stopped", flush=True)
    return 0


def cmd_openapi(args: argparse.Namespace, config: CentralConfig) -> int:
    import json

    from central.api.app import create_app

    print(json.dumps(create_app(None, kiosk_trust=None).openapi(), indent=2,  # type: ignore[arg-type]
                     sort_keys=True))
    return 0
