"""The kiosk's sync settings: where its cache is, which central server it
talks to, and with which identity. The [sync] table of the kiosk's TOML file,
or SALLYPORT_SYNC_* environment variables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from sync.central_client import KioskCredentials


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
        url = urlparse(self.central_url)
        if url.scheme not in ("https", "http") or not url.hostname:
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
