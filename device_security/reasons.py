"""Reason codes: why a device was refused. Each refusal and its alert carry one.

The codes are stable strings: staff filter alerts by them, and
``docs/security.md`` explains each.
"""

from __future__ import annotations

# Before any data moves
UNEXPECTED_INTERFACES = "unexpected_interfaces"  # e.g. a composite device that is also a keyboard
NO_SERIAL_INTERFACE = "no_serial_interface"

# The secure channel and the certificate
HANDSHAKE_FAILED = "handshake_failed"  # garbage, truncated, replayed or timed-out handshake
CERTIFICATE_UNTRUSTED = "certificate_untrusted"  # self-signed, or another facility's CA
CERTIFICATE_EXPIRED = "certificate_expired"
CERTIFICATE_NOT_YET_VALID = "certificate_not_yet_valid"
CERTIFICATE_REVOKED = "certificate_revoked"
CERTIFICATE_MALFORMED = "certificate_malformed"
WRONG_ROLE = "wrong_role"  # a kiosk certificate on a tablet, or the reverse
REVOCATION_LIST_STALE = "revocation_list_stale"
USB_SERIAL_MISMATCH = "usb_serial_mismatch"  # certificate serial != USB descriptor serial

# The registry and the kiosk session
UNKNOWN_SERIAL = "unknown_serial"
NOT_ASSIGNED = "not_assigned"
TABLET_NOT_ACTIVE = "tablet_not_active"  # lost, released or retired
NOBODY_LOGGED_IN = "nobody_logged_in"
ASSIGNED_TO_SOMEONE_ELSE = "assigned_to_someone_else"
UNIT_NOT_ALLOWED = "unit_not_allowed"
COUNTER_NOT_INCREASING = "counter_not_increasing"  # a clone, or a replayed state
COUNTER_JUMP = "counter_jump"  # far above the last one: forged, or a state from elsewhere

# Release tokens
TOKEN_MALFORMED = "token_malformed"
TOKEN_BAD_SIGNATURE = "token_bad_signature"
TOKEN_WRONG_SERIAL = "token_wrong_serial"
TOKEN_EXPIRED = "token_expired"
TOKEN_REUSED = "token_reused"

ALL = frozenset(v for k, v in dict(globals()).items() if k.isupper() and isinstance(v, str))
