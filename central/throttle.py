"""How many logins the server takes, per kiosk, per address and per account:
a token bucket for each (pure arithmetic over the clock), so a flood from one
place or at one account is refused early (429 with Retry-After) and never
reaches the password hashing that every kiosk's residents share."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from central.errors import TooManyAttempts

MAX_BUCKETS = 100_000  # buckets kept; the idlest are dropped first beyond this


@dataclass(frozen=True)
class Rate:
    """``burst`` attempts at once, then one every ``per_s / burst`` seconds."""

    burst: int
    per_s: float


# The policy (docs/security.md, "Logins"): a kiosk serves one resident at a time;
# an account is locked after five wrong answers anyway; an address on the internet
# may be a household or a shared library.
PER_KIOSK = Rate(20, 60.0)
PER_ACCOUNT = Rate(10, 60.0)
PER_ADDRESS = Rate(30, 60.0)


@dataclass
class _Bucket:
    tokens: float
    at: float


class LoginThrottle:
    """Token buckets by key ("kiosk:K-A1", "account:resident:874512", ...), with
    the rates for each kind of key."""

    def __init__(self, *, per_kiosk: Rate = PER_KIOSK, per_account: Rate = PER_ACCOUNT,
                 per_address: Rate = PER_ADDRESS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_kiosk, self.per_account, self.per_address = per_kiosk, per_account, per_address
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def admit(self, *limits: tuple[str, Rate]) -> None:
        """Take one attempt from each bucket, or none if any is empty. Raises
        TooManyAttempts with the seconds until the emptiest has one again."""
        now = self._clock()
        with self._lock:
            wait = 0.0
            for key, rate in limits:
                bucket = self._fill(key, rate, now)
                if bucket.tokens < 1:
                    wait = max(wait, (1 - bucket.tokens) * rate.per_s / rate.burst)
            if wait:
                raise TooManyAttempts("too many login attempts here; try again shortly",
                                      retry_after=max(1, math.ceil(wait)))
            for key, _ in limits:
                self._buckets[key].tokens -= 1

    def _fill(self, key: str, rate: Rate, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._forget(now)
            bucket = self._buckets[key] = _Bucket(float(rate.burst), now)
        else:
            bucket.tokens = min(float(rate.burst),
                                bucket.tokens + (now - bucket.at) * rate.burst / rate.per_s)
            bucket.at = now
        return bucket

    def _forget(self, now: float) -> None:
        """Drop the buckets idle longest (a full bucket is no different from none)."""
        for key in sorted(self._buckets, key=lambda k: self._buckets[k].at)[:MAX_BUCKETS // 10]:
            del self._buckets[key]
