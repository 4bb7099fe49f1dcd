"""Which devices a staged rollout reaches: pure, shared by the central server
(which stores rollouts) and the kiosk (which offers images). A device is in a
rollout at ``percent`` when its serial's bucket, from SHA-256 of the image's
name and the serial, is below it: the same devices at every kiosk, and raising
the percentage only adds devices."""

from __future__ import annotations

import hashlib

BUCKETS = 10_000


def bucket(image: str, serial: str) -> int:
    """The device's place, 0 to 9999, in the rollout of ``image``."""
    digest = hashlib.sha256(f"sallyport rollout\0{image}\0{serial}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def in_rollout(image: str, serial: str, percent: int) -> bool:
    if not 0 <= percent <= 100:
        raise ValueError(f"a rollout's percent is 0 to 100, not {percent}")
    return bucket(image, serial) < percent * (BUCKETS // 100)
