"""The central server's configuration (the ``[central]`` table, or
``SALLYPORT_CENTRAL_*`` environment variables)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CentralConfig:
    """Where the server keeps its data, where it listens, and whom it trusts.

    ``database_url`` empty means a SQLite file in ``state_dir``. Without
    ``tls_certificate`` the server speaks plain HTTP, which only loopback
    allows (kiosks then cannot authenticate: a development mode).
    """

    state_dir: Path = Path("~/.local/share/sallyport/central")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8443
    tls_certificate: str = ""  # PEM: the server's certificate (from the facility CA)
    tls_key: str = ""
    ca_certificate: str = ""  # PEM: the facility CA that issued kiosk certificates
    crl: str = ""  # PEM: the facility CA's revocation list
    trust_account_url: str = ""  # the agency's trust-account system; empty: in-process
    card_processor: str = ""  # "" (no card payments) or "sandbox" (demo: moves no money)
    password_cost: str = "standard"  # noqa: S105 - a hashing cost, not a password
    working_language: str = "en"
    retention_days: int = 3650
    ticket_resolution_days: int = 14
    ticket_escalate_days_before: int = 3
    sweep_interval_s: float = 300.0  # ticket escalation, refunds, plan expiry

    def __post_init__(self) -> None:
        if not (0 <= self.port < 65536):
            raise ValueError(f"port must be 0-65535 (0: any free port), got {self.port}")
        if bool(self.tls_certificate) != bool(self.tls_key):
            raise ValueError("tls_certificate and tls_key go together")
        if not self.tls_certificate and self.host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("plain HTTP is for loopback only: set tls_certificate and tls_key")
        if self.card_processor not in ("", "sandbox"):
            raise ValueError("card_processor is '' (none) or 'sandbox' (the demo's)")
        if self.password_cost not in ("standard", "low"):
            raise ValueError("password_cost is 'standard' or 'low'")
        if self.retention_days < 1 or self.ticket_resolution_days < 1:
            raise ValueError("retention_days and ticket_resolution_days must be positive")
        if self.sweep_interval_s <= 0:
            raise ValueError("sweep_interval_s must be positive")

    @property
    def state_path(self) -> Path:
        return self.state_dir.expanduser()

    @property
    def url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.state_path / 'central.db'}"
