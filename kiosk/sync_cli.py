"""``sallyport sync``: the kiosk's store-and-forward cache, for technicians."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kiosk.config import SyncConfig

if TYPE_CHECKING:
    from device_security.alerts import AlertQueue
    from kiosk.cache import KioskCache


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "sync", help="the kiosk's sync cache: status, a round with the central server",
        description="The kiosk's store-and-forward cache: what it holds for this unit's "
        "residents, and what waits to go up to the central server. Settings come from "
        "the [sync] table of --config and SALLYPORT_SYNC_* environment variables.")
    parser.add_argument("--config", type=Path, help="a TOML file with a [sync] table")
    parser.set_defaults(config_class=SyncConfig, config_section="sync",
                        config_prefix="SALLYPORT_SYNC")
    sub = parser.add_subparsers(dest="sync_command", required=True, metavar="COMMAND")
    p = sub.add_parser("status", help="show the queues and cursors",
                       description="Show each resident's feed cursor against the server's "
                       "head, the blobs held and missing, the queues for the central server "
                       "(alerts, sync counters, drafts, receipts), the tablets seen, and the "
                       "last contact with the central server.")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("round", help="run one round with the central server now",
                       description="Send queued alerts, sync counters, drafts and receipts, "
                       "then fetch new feed records and blobs; prints what moved. Exits 1 if "
                       "the server could not be reached (nothing is lost: the queues wait).")
    p.set_defaults(func=cmd_round)


def cmd_status(args: argparse.Namespace, config: SyncConfig) -> int:
    if not (config.cache_path / "cache.db").exists():
        print(f"sallyport sync status: no cache at {config.cache_path} yet")
        return 1
    cache = _open_cache(config, "status")
    if cache is None:
        return 2
    try:
        status = cache.status()
    finally:
        cache.close()
    alerts = _alert_queue(config)
    if alerts is not None:
        status["queues"]["alerts"] = alerts.counts()
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    print(format_status(status, config.cache_path))
    return 0


def _when(value: Any) -> str:
    if value in (None, ""):
        return "never"
    seconds, _, rest = str(value).partition(" ")
    at = datetime.datetime.fromtimestamp(int(seconds), datetime.UTC)
    return f"{at:%Y-%m-%d %H:%M:%S} UTC {rest}".rstrip()


def format_status(status: dict[str, Any], where: Path) -> str:
    """The status as a technician reads it."""
    lines = [f"kiosk cache {where}"]
    central = status["central"]
    lines.append(f"central server: last reached {_when(central['last_ok'])}; "
                 f"last problem {_when(central['last_error'])}")
    blobs = status["blobs"]
    lines.append(f"records: {status['records']}   files: {blobs['complete']} "
                 f"({blobs['bytes'] / 1e6:.1f} MB), {blobs['missing']} still to fetch")
    for name, queue in status["queues"].items():
        unmailed = f", {queue['unmailed']} not emailed yet" if queue.get("unmailed") else ""
        lines.append(f"{name} to send: {queue['queued']} waiting, {queue['sent']} sent, "
                     f"{queue['refused']} refused{unmailed}")
    behind = [r for r in status["residents"] if r["behind"]]
    lines.append(f"residents: {len(status['residents'])}, {len(behind)} behind the server")
    lines.extend(f"  resident {r['resident_id']}: cursor {r['cursor']} of {r['head']}"
                 for r in behind)
    lines.append(f"tablets: {len(status['tablets'])}")
    lines.extend(f"  {t['serial']}: resident {t['resident_id']}, {t['status']}, feed through "
                 f"{t['cursor']}, last sync {_when(t['last_sync_at'])}"
                 for t in status["tablets"])
    return "\n".join(lines)


def cmd_round(args: argparse.Namespace, config: SyncConfig) -> int:
    from kiosk.central_client import CentralClient
    from kiosk.letters import Letters
    from kiosk.rounds import CentralSync

    try:
        credentials = config.credentials()
    except ValueError as e:
        print(f"sallyport sync round: {e}")
        return 2
    config.cache_path.mkdir(parents=True, exist_ok=True)
    cache = _open_cache(config, "round")
    if cache is None:
        return 2
    try:
        with CentralClient(config.central_url, credentials,
                           timeout=config.request_timeout_s) as client:
            done = CentralSync(client, cache, alerts=_alert_queue(config),
                               letters=Letters(client, cache)).run_once()
    finally:
        cache.close()
    print(f"alerts sent {done.sent_alerts}, refused {done.refused_alerts}; sync counters sent "
          f"{done.sent_counters}, refused {done.refused_counters}; drafts sent "
          f"{done.sent_drafts}, refused {done.refused_drafts}; receipts sent "
          f"{done.sent_receipts}; records fetched {done.records}; files fetched {done.blobs} "
          f"({done.blob_bytes / 1e6:.1f} MB)")
    if done.error:
        print(f"stopped: {done.error}")
        return 1
    return 0


def _open_cache(config: SyncConfig, command: str) -> KioskCache | None:
    """The kiosk's cache, opened with the key it is sealed under (the kiosk's
    own, ``[sync] key``); None, said on stderr, when it cannot be."""
    from device_security.errors import SecurityError
    from device_security.secure_element import KeyFileSecureElement
    from kiosk.cache import CacheError, KioskCache, cache_sealer

    if not config.key:
        print(f"sallyport sync {command}: set [sync] key: the cache is sealed under the "
              "kiosk's key", file=sys.stderr)
        return None
    try:
        return KioskCache(config.cache_path, cache_sealer(KeyFileSecureElement(Path(config.key))))
    except (CacheError, SecurityError) as e:
        print(f"sallyport sync {command}: {e}", file=sys.stderr)
        return None


def _alert_queue(config: SyncConfig) -> AlertQueue | None:
    """The kiosk's alert queue, if it has one yet (the first alert makes it)."""
    from device_security.alerts import AlertQueue

    path = config.alert_queue_path
    return AlertQueue(path) if path is not None and path.exists() else None
