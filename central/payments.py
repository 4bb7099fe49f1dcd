"""Card payments from family members, through a processor adapter.

Sallyport never sees card numbers: the family's browser or app gets a
one-time token from the agency's processor, and the server charges that
token under an idempotency key. :class:`SandboxCardPayments` is the
processor used by the demo and the tests: it accepts tokens that start
with ``tok_sandbox_`` and declines ``tok_sandbox_declined``. An agency's
deployment passes its processor's adapter instead.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Protocol

from central.errors import Conflict, PolicyRefused, UpstreamUnavailable

DECLINED = "tok_sandbox_declined"  # a sandbox card token, not a secret


@dataclass(frozen=True)
class CardCharge:
    charge_id: str
    amount_cents: int


class CardPayments(Protocol):
    def charge(self, token: str, amount_cents: int, idempotency_key: str) -> CardCharge:
        """Charge ``token``. Raises PolicyRefused when declined, Conflict when the key
        was used for another amount, UpstreamUnavailable when the processor is down."""
        ...


class NoCardPayments:
    """No processor is set up: family members cannot buy stamps by card here."""

    def charge(self, token: str, amount_cents: int, idempotency_key: str) -> CardCharge:
        raise UpstreamUnavailable("card payments are not set up on this server",
                                  code="no_card_processor")


class SandboxCardPayments:
    """A processor with no money behind it, for the demo and tests (see module docstring)."""

    def __init__(self) -> None:
        self._charges: dict[str, CardCharge] = {}
        self._lock = threading.Lock()

    def charge(self, token: str, amount_cents: int, idempotency_key: str) -> CardCharge:
        if not token.startswith("tok_sandbox_") or token == DECLINED:
            raise PolicyRefused("the card was declined", code="card_declined")
        with self._lock:
            done = self._charges.get(idempotency_key)
            if done is not None:
                if done.amount_cents != amount_cents:
                    raise Conflict("this payment key was used for another amount",
                                   code="idempotency_key_reused")
                return done
            charge_id = "ch_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
            done = CardCharge(charge_id, amount_cents)
            self._charges[idempotency_key] = done
            return done
