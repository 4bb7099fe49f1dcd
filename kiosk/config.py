"""The kiosk's own settings: where it stands and where its state lives (the
``[kiosk]`` table of the kiosk's TOML file, or ``SALLYPORT_KIOSK_*``).

The same file holds the ``[sync]`` table (the central server, this kiosk's
certificate, the cache; see kiosk/config.py) and the ``[hw]`` table (which
USB devices are tablets; see hw/config.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from kiosk.central_client import KioskCredentials


@dataclass(frozen=True)
class KioskConfig:
    location_code: str = ""  # as staff know the place, e.g. CC-A-DAYROOM; named in alerts
    unit: str = ""  # the living unit this kiosk serves, e.g. CC-A
    state_dir: str = "kiosk-state"  # registry copy, alert queue, event log
    crl: str = ""  # PEM: the facility CA's revocation list, if the kiosk holds one
    handshake_timeout_s: float = 5.0  # for a docked tablet's TLS handshake
    smtp_host: str = ""  # empty: alerts go to the central server only
    smtp_port: int = 25
    alert_from: str = ""
    alert_to: str = ""  # the facility's staff address
    technician_pin_hash: str = ""  # argon2id of the maintenance PIN (sallyport kiosk pin-hash)
    technician_badges: tuple[str, ...] = ()  # badge ids that open the maintenance menu
    badge_reader: str = ""  # its serial address, e.g. serial:///dev/ttyUSB1; empty: none
    printer: str = ""  # the receipt printer's serial address; empty: none
    usb_stick: str = ""  # where a USB stick is mounted, for release archives; empty: none
    inactivity_s: float = 120.0  # a resident is logged out after this long without a touch

    def __post_init__(self) -> None:
        if not self.location_code or not self.unit:
            raise ValueError("set location_code and unit: alerts and pairing name them")
        if len(self.unit) > 64 or not self.unit.isprintable() or self.unit.strip() != self.unit:
            raise ValueError(f"unit must be 1 to 64 printable characters (tablets are told "
                             f"it), got {self.unit!r}")
        if self.handshake_timeout_s <= 0:
            raise ValueError("handshake_timeout_s must be positive")
        if self.smtp_host and not (self.alert_from and self.alert_to):
            raise ValueError("with smtp_host, set alert_from and alert_to")
        if not 0 < self.smtp_port < 65536:
            raise ValueError(f"smtp_port must be 1-65535, got {self.smtp_port}")
        if not 30 <= self.inactivity_s <= 3600:
            raise ValueError("inactivity_s must be 30 to 3600 seconds")
        if self.technician_pin_hash and not self.technician_pin_hash.startswith("$argon2"):
            raise ValueError("technician_pin_hash is an argon2 hash (sallyport kiosk pin-hash)")

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir)

    @property
    def log_path(self) -> Path:
        """The kiosk's event log, for technicians."""
        return self.state_path / "kiosk.log"


@dataclass(frozen=True)
class SyncConfig:
    cache_dir: str = "kiosk-cache"  # the store-and-forward cache (cache.db, blobs/)
    central_url: str = "https://127.0.0.1:8443"
    certificate: str = ""  # PEM: this kiosk's certificate, from the facility CA
    key: str = ""  # PEM: its private key
    ca_certificate: str = ""  # PEM: the facility CA (it issued the server's certificate)
    alert_queue: str = ""  # the kiosk's alert queue (alerts.db), forwarded each round
    round_interval_s: float = 5.0  # between rounds with the central server
    request_timeout_s: float = 15.0

    def __post_init__(self) -> None:
        # https only: the kiosk sends residents' PINs, session tokens and letters,
        # and authenticates the server by the facility CA (docs/security.md).
        url = urlparse(self.central_url)
        if url.scheme != "https" or not url.hostname:
            raise ValueError(f"central_url must be an https:// URL, got {self.central_url!r}")
        if self.round_interval_s <= 0 or self.request_timeout_s <= 0:
            raise ValueError("round_interval_s and request_timeout_s must be positive")

    @property
    def cache_path(self) -> Path:
        return Path(self.cache_dir)

    @property
    def alert_queue_path(self) -> Path | None:
        return Path(self.alert_queue) if self.alert_queue else None

    def credentials(self) -> KioskCredentials:
        missing = [name for name in ("certificate", "key", "ca_certificate")
                   if not getattr(self, name)]
        if missing:
            raise ValueError(f"set {', '.join(missing)} to talk to the central server")
        return KioskCredentials(Path(self.certificate), Path(self.key),
                                Path(self.ca_certificate))
