"""The metadata a kiosk hands a tablet with a firmware offer: the root versions
after the one the tablet trusts, then the current timestamp, snapshot and
targets, each exactly as the repository signed it (TUF JSON). Carried as one
CBOR map, bounded so that it fits the offer frame (64 KiB)."""

from __future__ import annotations

from dataclasses import dataclass

import cbor2

from firmware_images.errors import MalformedMetadata

MAX_BUNDLE = 64 * 1024
MAX_ROOTS = 16  # root versions one bundle may carry past the trusted one
_KEYS = {"roots", "timestamp", "snapshot", "targets"}


@dataclass(frozen=True)
class MetadataBundle:
    roots: tuple[bytes, ...]
    timestamp: bytes
    snapshot: bytes
    targets: bytes

    def to_bytes(self) -> bytes:
        """Canonical CBOR. Raises MalformedMetadata when it would not fit an offer."""
        data: bytes = cbor2.dumps({"roots": list(self.roots), "timestamp": self.timestamp,
                                   "snapshot": self.snapshot, "targets": self.targets},
                                  canonical=True)
        if len(data) > MAX_BUNDLE or len(self.roots) > MAX_ROOTS:
            raise MalformedMetadata("the metadata bundle is larger than an offer carries",
                                    observed=len(data), roots=len(self.roots))
        return data

    @classmethod
    def from_bytes(cls, data: bytes) -> MetadataBundle:
        """Raises MalformedMetadata for anything but a bundle within the bounds."""
        if len(data) > MAX_BUNDLE:
            raise MalformedMetadata("the metadata bundle is too large", observed=len(data))
        try:
            value = cbor2.loads(data)
        except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as e:
            raise MalformedMetadata(f"the metadata bundle is not CBOR: {e}") from e
        if not isinstance(value, dict) or set(value) != _KEYS:
            raise MalformedMetadata("the metadata bundle has the wrong fields")
        roots = value["roots"]
        if not isinstance(roots, list) or len(roots) > MAX_ROOTS \
                or not all(isinstance(r, bytes) for r in roots):
            raise MalformedMetadata("roots is a short list of byte strings")
        for name in ("timestamp", "snapshot", "targets"):
            if not isinstance(value[name], bytes):
                raise MalformedMetadata(f"{name} is a byte string", role=name)
        return cls(tuple(roots), value["timestamp"], value["snapshot"], value["targets"])
