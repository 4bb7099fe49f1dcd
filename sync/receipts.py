"""Statements a tablet signs with its device key: what it committed, and what it
wrote. Pure functions over values; no I/O.

A delivery counts only when the tablet has committed it and signed a receipt
saying so, naming the owner and the entitlements it delivers (a receipt signed
for one owner never verifies a purchase of the tablet's next owner); a
resident's draft counts only when the tablet that wrote it signed it. The
kiosk forwards both to the central server, which checks them against the
tablet's certificate, so a kiosk can neither claim a delivery nor invent a
message.

What is signed is canonical CBOR of ``["sallyport-statement/1", kind, fields]``
(the domain tag keeps these signatures from meaning anything elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from sync.errors import StatementError

DOMAIN = "sallyport-statement/1"
# The fields each kind of statement carries, and their types.
KINDS: dict[str, dict[str, type]] = {
    # the tablet committed the resident's feed through ``through`` in this session
    "records": {"serial": str, "session": bytes, "through": int, "batch_digest": bytes},
    # the tablet holds the whole blob ``sha`` (its bytes hash to it)
    "blob": {"serial": str, "sha": bytes},
    # the tablet holds the whole blob ``sha`` for ``owner`` (an agency ID), as the
    # file of these entitlements of theirs: what a purchase is verified by
    "delivery": {"serial": str, "owner": str, "sha": bytes, "entitlements": list},
    # the resident wrote this draft on this tablet
    "draft": {"serial": str, "uid": str, "resident": str, "contact": int, "body": str,
              "attachments": list},
    # the resident wrote this essential request (medical, grievance, prea, legal,
    # records) on this tablet at ``written_at``
    "request": {"serial": str, "uid": str, "resident": str, "type": str, "body": str,
                "written_at": int},
}
SIGNATURE_SIZE = 64
MAX_ENTITLEMENTS = 64  # files of one owner a delivery receipt may name


def draft_fields(*, serial: str, uid: str, resident: Any, contact: Any, body: Any,
                 attachments: Any = ()) -> dict[str, Any]:
    """What a tablet signs for a resident's draft: the one place the tablet,
    the kiosk and the central server agree on it. (Values are passed through
    as given, so a malformed one fails in :func:`statement_bytes`.)"""
    return {"serial": serial, "uid": uid, "resident": resident, "contact": contact,
            "body": body, "attachments": list(attachments) if isinstance(
                attachments, list | tuple) else attachments}


def request_fields(*, serial: str, uid: str, resident: Any, type_: Any, body: Any,
                   written_at: Any) -> dict[str, Any]:
    """What a tablet signs for an essential request its resident wrote: the one
    place the tablet, the kiosk and the central server agree on it."""
    return {"serial": serial, "uid": uid, "resident": resident, "type": type_, "body": body,
            "written_at": written_at}


def delivery_fields(*, serial: str, owner: str, sha: bytes,
                    entitlements: Iterable[int]) -> dict[str, Any]:
    """What a tablet signs for a file it holds as the file of its owner's
    entitlements: the one place the tablet, the kiosk and the central server
    agree on it (the entitlements in ascending order, each once)."""
    return {"serial": serial, "owner": owner, "sha": sha,
            "entitlements": sorted(set(entitlements))}


def statement_bytes(kind: str, fields: Mapping[str, Any]) -> bytes:
    """What the tablet signs. Raises StatementError for an unknown kind or fields
    that are missing, extra, or of the wrong type."""
    spec = KINDS.get(kind)
    if spec is None:
        raise StatementError("malformed", f"unknown statement kind {kind!r}")
    if set(fields) != set(spec):
        raise StatementError("malformed", f"a {kind} statement has fields "
                             f"{sorted(spec)}, not {sorted(fields)}")
    for name, want in spec.items():
        value = fields[name]
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise StatementError("malformed", f"{kind}.{name} must be {want.__name__}, "
                                 f"not {type(value).__name__}")
    if kind == "delivery":
        ids = fields["entitlements"]
        if not (0 < len(ids) <= MAX_ENTITLEMENTS) or any(
                type(i) is not int or i <= 0 for i in ids) or ids != sorted(set(ids)):
            raise StatementError("malformed", f"delivery.entitlements must be 1-"
                                 f"{MAX_ENTITLEMENTS} positive integers in ascending order, "
                                 f"each once, not {str(ids)[:80]}")
    return cbor2.dumps([DOMAIN, kind, dict(fields)], canonical=True)


def verify(public_key: Ed25519PublicKey, kind: str, fields: Mapping[str, Any],
           signature: bytes) -> None:
    """Check that the holder of ``public_key`` signed this statement.

    Raises StatementError (``malformed`` or ``bad_signature``); returns None
    when it verifies."""
    data = statement_bytes(kind, fields)
    if len(signature) != SIGNATURE_SIZE:
        raise StatementError("malformed", f"a signature is {SIGNATURE_SIZE} bytes, "
                             f"not {len(signature)}")
    try:
        public_key.verify(signature, data)
    except InvalidSignature as e:
        raise StatementError("bad_signature",
                             f"the {kind} statement is not signed by this tablet") from e
