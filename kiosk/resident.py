"""A resident at the kiosk: log in with ID and PIN through the central server,
and act for them with their session token (the kiosk's certificate goes along
on every call; the server checks both)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiosk.central_client import CentralClient, CentralRefused


@dataclass(frozen=True)
class Resident:
    """Who is logged in, as the central server knows them."""

    token: str
    expires_at: int
    must_change_pin: bool
    resident_id: int = 0  # the rest is known once the PIN is the resident's own
    agency_id: str = ""
    name: str = ""
    language: str = "en"

    @property
    def ready(self) -> bool:
        """Logged in for good: the first-login PIN change is behind them."""
        return not self.must_change_pin and bool(self.agency_id)


class LoginRefused(Exception):
    """The server said no: a wrong ID or PIN, a lockout, another unit's kiosk."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ResidentDesk:
    """The resident calls of one kiosk. Errors: LoginRefused for a refusal,
    CentralUnavailable when the server cannot be reached."""

    def __init__(self, client: CentralClient) -> None:
        self.client = client

    def login(self, agency_id: str, pin: str) -> Resident:
        try:
            answer = self.client.call("POST", "/v1/resident/sessions",
                                      json={"agency_id": agency_id, "pin": pin})
        except CentralRefused as e:
            raise LoginRefused(e.code, e.message) from e
        resident = Resident(str(answer["token"]), int(answer["expires_at"]),
                            bool(answer.get("must_change_pin")))
        return resident if resident.must_change_pin else self._known(resident)

    def change_pin(self, resident: Resident, old_pin: str, new_pin: str) -> Resident:
        try:
            self.client.call("POST", "/v1/resident/pin", token=resident.token,
                             json={"old_pin": old_pin, "new_pin": new_pin})
        except CentralRefused as e:
            raise LoginRefused(e.code, e.message) from e
        return self._known(Resident(resident.token, resident.expires_at, False))

    def logout(self, resident: Resident) -> None:
        self.client.call("DELETE", "/v1/resident/sessions", token=resident.token)

    def home(self, resident: Resident) -> dict[str, Any]:
        answer: dict[str, Any] = self.client.call("GET", "/v1/resident/home",
                                                  token=resident.token)
        return answer

    def entitlements(self, resident: Resident) -> list[dict[str, Any]]:
        """What they bought, each file with its delivery state (paid, at the
        kiosk, verified on the tablet, refunded)."""
        answer: list[dict[str, Any]] = self.client.call("GET", "/v1/resident/entitlements",
                                                        token=resident.token)
        return answer

    def buy(self, resident: Resident, item_id: str, key: str) -> list[dict[str, Any]]:
        """Buy a catalog item with prepaid funds; ``key`` makes a retry harmless."""
        answer: list[dict[str, Any]] = self.client.call(
            "POST", "/v1/resident/purchases", token=resident.token,
            json={"item_id": item_id, "idempotency_key": key})
        return answer

    def catalog(self, resident: Resident, query: str = "", kind: str | None = None,
                limit: int = 50) -> list[dict[str, Any]]:
        """The media catalog, searched by title or artist."""
        params: dict[str, Any] = {"q": query[:100], "limit": limit}
        if kind:
            params["kind"] = kind
        answer: list[dict[str, Any]] = self.client.call(
            "GET", "/v1/resident/catalog", token=resident.token, params=params)
        return answer

    def contacts(self, resident: Resident) -> list[dict[str, Any]]:
        """The family members and friends approved to write with them."""
        answer: list[dict[str, Any]] = self.client.call("GET", "/v1/resident/contacts",
                                                        token=resident.token)
        return answer

    def send(self, resident: Resident, *, uid: str, contact_id: int, body: str
             ) -> dict[str, Any]:
        """Send a message; the same ``uid`` again never sends or charges twice."""
        answer: dict[str, Any] = self.client.call(
            "POST", "/v1/resident/messages", token=resident.token,
            json={"uid": uid, "contact_id": contact_id, "body": body, "attachments": []})
        return answer

    def offers(self, resident: Resident) -> list[dict[str, Any]]:
        """The stamp bundles their agency sells."""
        answer: list[dict[str, Any]] = self.client.call("GET", "/v1/resident/offers",
                                                        token=resident.token)
        return answer

    def buy_stamps(self, resident: Resident, offer_id: str, key: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.client.call(
            "POST", "/v1/resident/stamps", token=resident.token,
            json={"offer_id": offer_id, "idempotency_key": key})
        return answer

    def transfer(self, resident: Resident, amount_cents: int, key: str) -> dict[str, Any]:
        """Move money from their trust account to prepaid, within the agency's limits."""
        answer: dict[str, Any] = self.client.call(
            "POST", "/v1/resident/transfers", token=resident.token,
            json={"amount_cents": amount_cents, "idempotency_key": key})
        return answer

    def tickets(self, resident: Resident) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self.client.call("GET", "/v1/resident/tickets",
                                                        token=resident.token)
        return answer

    def file_ticket(self, resident: Resident, *, uid: str, category: str, description: str,
                    diagnostics: dict[str, Any]) -> dict[str, Any]:
        """A trouble ticket, with the kiosk's diagnostics attached; ``uid`` makes a
        retry harmless."""
        answer: dict[str, Any] = self.client.call(
            "POST", "/v1/resident/tickets", token=resident.token,
            json={"uid": uid, "category": category, "description": description,
                  "diagnostics": diagnostics})
        return answer

    def _known(self, resident: Resident) -> Resident:
        home = self.home(resident)
        return Resident(resident.token, resident.expires_at, False,
                        int(home["resident_id"]), str(home["agency_id"]), str(home["name"]),
                        str(home.get("language") or "en"))
