"""An agency's pricing policy, and the pure rules that read it.

Prices are policy, not code: each agency stores one :class:`PricingPolicy`
(as JSON). Nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from central.errors import InvalidFields, InvalidInput, PolicyRefused

# What an agency may ask a family member to say about themselves before they
# become a resident's contact (PricingPolicy.family_identity_fields), with the
# most each may be. The web form and the staff who approve read them.
IDENTITY_FIELDS = {
    "legal_name": 200,  # as on their identity document, if not their display name
    "date_of_birth": 10,  # YYYY-MM-DD
    "phone": 32,
    "street_address": 300,
    "id_document": 64,  # the number of a driver's licence or another identity document
}
_PHONE = re.compile(r"\+?[0-9][0-9 ().-]{5,30}")


@dataclass(frozen=True)
class StampOffer:
    """A bundle (stamps that never expire) or a monthly plan (stamps that do)."""

    id: str
    stamps: int
    price_cents: int
    valid_days: int | None = None  # None: a bundle; otherwise a plan's stamps expire

    def __post_init__(self) -> None:
        if not (0 < len(self.id) <= 32 and self.id.replace("-", "").isalnum()):
            raise ValueError(f"offer id {self.id!r} must be 1-32 letters, digits or dashes")
        if self.stamps <= 0 or self.price_cents <= 0:
            raise ValueError(f"offer {self.id}: stamps and price must be positive")
        if self.valid_days is not None and self.valid_days <= 0:
            raise ValueError(f"offer {self.id}: valid_days must be positive")


REQUEST_TYPES = ("medical", "grievance", "prea", "legal", "records")
# Staff who may read PREA reports, when the agency names them: an agency-level
# "prea" role, and administrators of the whole agency. Never a facility's staff.
PREA_READERS = ("prea", "agency_administrator")


@dataclass(frozen=True)
class PayoutOption:
    """One way a released resident's prepaid balance leaves: refunded to the
    trust account, or paid out (a check, a release card), with its fee."""

    id: str
    label: str
    fee_cents: int = 0

    def __post_init__(self) -> None:
        if not (0 < len(self.id) <= 32 and self.id.replace("-", "").replace("_", "").isalnum()):
            raise ValueError(f"payout option id {self.id!r} must be 1-32 letters or digits")
        if not (0 < len(self.label) <= 200):
            raise ValueError(f"payout option {self.id}: a label of 1-200 characters")
        if not (0 <= self.fee_cents <= 100_000):
            raise ValueError(f"payout option {self.id}: the fee is 0 to 100000 cents")


def _deadlines() -> dict[str, int]:
    return {"medical": 2, "grievance": 15, "prea": 1, "legal": 5, "records": 10}


@dataclass(frozen=True)
class PricingPolicy:
    """What things cost at one agency, and the limits it sets."""

    stamps_per_message: int = 1
    stamps_per_photo: int = 1
    stamps_per_videogram: int = 4
    stamps_per_attachment: int = 0  # added to the photo/videogram price for every attachment
    offers: tuple[StampOffer, ...] = (
        StampOffer("bundle-20", 20, 500),
        StampOffer("bundle-35", 35, 750),
        StampOffer("bundle-60", 60, 1000),
    )
    transfer_min_cents: int = 500
    transfer_max_cents: int = 20000
    transfer_step_cents: int = 500
    max_message_chars: int = 6000
    max_photos: int = 5
    max_videograms: int = 1
    refund_rejected_stamps: bool = True  # a whole rejected message: all its stamps back
    # a photo or videogram rejected while the rest of its message is delivered:
    # that attachment's own stamps back (what it added to the message's price)
    refund_rejected_attachments: bool = True
    review_attachments: bool = False  # hold every message with a photo or videogram
    # the bytes a family account may hold in uploads not yet delivered (or
    # rejected) in a message, nor left unsent past unsent_upload_days
    family_storage_quota_bytes: int = 200 * 1024 * 1024
    unsent_upload_days: int = 7
    refund_window_days: int = 14
    tablet_lock_days: int = 14  # a tablet not docked this long locks for writing
    # what a family member must tell about themselves (names from IDENTITY_FIELDS)
    family_identity_fields: tuple[str, ...] = ()
    # essential requests: days staff have to answer each type before it escalates
    request_deadline_days: dict[str, int] = dataclasses.field(default_factory=_deadlines)
    prea_readers: tuple[str, ...] = PREA_READERS
    # after release, the resident's messages, photos and purchases stay this long
    release_retention_days: int = 365
    payout_options: tuple[PayoutOption, ...] = (
        PayoutOption("trust", "Back to your trust account", 0),
        PayoutOption("check", "A check mailed to your address", 0),
        PayoutOption("release-card", "A prepaid release card", 295),
    )
    price_notice_days: int = 7  # a price change is announced at least this long before
    tablet_price_cents: int = 0  # charged to a resident's prepaid account when given a tablet
    # The agency's commission on each kind of revenue, in basis points (1500 = 15%),
    # as its contract sets them: the monthly report computes them.
    commission_tablets_bps: int = 0
    commission_media_bps: int = 0
    commission_stamps_bps: int = 0
    timezone: str = "UTC"  # where the agency's days and months begin (IANA name)
    # credited once to a resident's prepaid money when their trouble ticket passes its
    # deadline unresolved (0: the agency gives no credit)
    ticket_late_credit_cents: int = 0

    def __post_init__(self) -> None:
        for name in ("stamps_per_message", "stamps_per_photo", "stamps_per_videogram",
                     "stamps_per_attachment"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if not (0 < self.transfer_min_cents <= self.transfer_max_cents):
            raise ValueError("transfer limits must satisfy 0 < min <= max")
        if self.transfer_step_cents <= 0:
            raise ValueError("transfer_step_cents must be positive")
        if len({o.id for o in self.offers}) != len(self.offers):
            raise ValueError("stamp offer ids must be unique")
        if not (0 < self.max_message_chars <= 20000):
            raise ValueError("max_message_chars must be in 1..20000")
        if not (1 <= self.tablet_lock_days <= 365):
            raise ValueError("tablet_lock_days must be in 1..365")
        unknown = set(self.family_identity_fields) - set(IDENTITY_FIELDS)
        if unknown:
            raise ValueError(f"family_identity_fields: unknown {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(IDENTITY_FIELDS)}")
        if set(self.request_deadline_days) != set(REQUEST_TYPES) or not all(
                isinstance(d, int) and 1 <= d <= 365 for d in self.request_deadline_days.values()):
            raise ValueError(f"request_deadline_days gives 1..365 days for each of "
                             f"{', '.join(REQUEST_TYPES)}")
        if not set(self.prea_readers) <= set(PREA_READERS):
            raise ValueError(f"prea_readers are some of {', '.join(PREA_READERS)}")
        if not (1 <= self.release_retention_days <= 36500):
            raise ValueError("release_retention_days must be in 1..36500")
        if not self.payout_options or len({o.id for o in self.payout_options}) != len(
                self.payout_options):
            raise ValueError("payout options: at least one, ids unique")
        if not (0 <= self.price_notice_days <= 365):
            raise ValueError("price_notice_days must be in 0..365")
        if not (0 <= self.tablet_price_cents <= 100_000):
            raise ValueError("tablet_price_cents must be in 0..100000")
        if not (0 <= self.ticket_late_credit_cents <= 100_000):
            raise ValueError("ticket_late_credit_cents must be in 0..100000")
        for name in ("commission_tablets_bps", "commission_media_bps", "commission_stamps_bps"):
            if not (0 <= getattr(self, name) <= 10_000):
                raise ValueError(f"{name} must be in 0..10000 (basis points)")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"timezone {self.timezone!r} is no IANA time zone name") from e
        if not (0 <= self.family_storage_quota_bytes <= 1 << 40):
            raise ValueError("family_storage_quota_bytes must be in 0..2**40")
        if not (1 <= self.unsent_upload_days <= 365):
            raise ValueError("unsent_upload_days must be in 1..365")

    def offer(self, offer_id: str) -> StampOffer:
        """Raises InvalidInput when the agency sells no such offer."""
        for offer in self.offers:
            if offer.id == offer_id:
                return offer
        known = ", ".join(o.id for o in self.offers)
        raise InvalidInput(f"no stamp offer {offer_id!r} here; offers: {known}",
                           code="unknown_offer")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PricingPolicy:
        data: dict[str, Any] = json.loads(text)
        data["offers"] = tuple(StampOffer(**o) for o in data.get("offers", ()))
        data["family_identity_fields"] = tuple(data.get("family_identity_fields", ()))
        if "payout_options" in data:
            data["payout_options"] = tuple(PayoutOption(**o) for o in data["payout_options"])
        if "prea_readers" in data:
            data["prea_readers"] = tuple(data["prea_readers"])
        return cls(**data)

    def payout(self, option_id: str) -> PayoutOption:
        """Raises InvalidInput when the agency offers no such payout."""
        for option in self.payout_options:
            if option.id == option_id:
                return option
        known = ", ".join(o.id for o in self.payout_options)
        raise InvalidInput(f"no payout option {option_id!r}; options: {known}",
                           code="unknown_payout")


PUBLIC_DOMAIN = "public_domain"
LICENSES = ("commercial", PUBLIC_DOMAIN)


def check_license_price(license_: str, price_cents: int) -> None:
    """Raises PolicyRefused for a public-domain item priced above zero, and
    InvalidInput for an unknown license."""
    if license_ not in LICENSES:
        raise InvalidInput(f"license is one of {', '.join(LICENSES)}", code="bad_license")
    if license_ == PUBLIC_DOMAIN and price_cents != 0:
        raise PolicyRefused("a public-domain item is free: its price is 0",
                            code="public_domain_is_free")


STAMP_RATES = ("stamps_per_message", "stamps_per_photo", "stamps_per_videogram",
               "stamps_per_attachment")


def stamp_prices(policy: PricingPolicy) -> dict[str, int]:
    """The prices a change needs a second approval for, by target."""
    out = {f"stamps:{name}": int(getattr(policy, name)) for name in STAMP_RATES}
    out.update({f"offer:{o.id}": o.price_cents for o in policy.offers})
    return out


def check_unchanged_prices(old: PricingPolicy, new: PricingPolicy) -> None:
    """A policy saved directly may add or drop offers and change limits, but
    not change a price that exists in both: that is a proposal's work.
    Raises PolicyRefused naming the first such price."""
    before, after = stamp_prices(old), stamp_prices(new)
    for target in sorted(before.keys() & after.keys()):
        if before[target] != after[target]:
            raise PolicyRefused(f"{target} changes from {before[target]} to {after[target]} "
                                "only by a proposal another agency administrator approves "
                                "(/v1/staff/price-changes)", code="price_change_needs_approval")


@dataclass(frozen=True)
class PayoutQuote:
    """What one payout option leaves a released resident with: shown before
    they choose."""

    option: str
    label: str
    fee_cents: int
    net_cents: int


def payout_quotes(policy: PricingPolicy, balance_cents: int) -> list[PayoutQuote]:
    """Every option the agency offers for this balance, with its fee (never
    more than the balance) and what is left."""
    if balance_cents < 0:
        raise InvalidInput("a balance is not negative")
    return [PayoutQuote(o.id, o.label, min(o.fee_cents, balance_cents),
                        balance_cents - min(o.fee_cents, balance_cents))
            for o in policy.payout_options]


def check_identity(required: Collection[str], values: dict[str, str], *,
                   today: datetime.date) -> dict[str, str]:
    """The identity fields ``required`` (names from IDENTITY_FIELDS) out of
    ``values``, trimmed and checked; fields not required are dropped. Raises
    InvalidFields naming every field that is missing or malformed."""
    kept: dict[str, str] = {}
    problems: dict[str, str] = {}
    for name, longest in IDENTITY_FIELDS.items():
        if name not in required:
            continue
        value = " ".join(str(values.get(name, "")).split())
        if not value:
            problems[name] = "this is needed"
        elif len(value) > longest or not value.isprintable():
            problems[name] = f"at most {longest} printable characters"
        elif name == "date_of_birth":
            try:
                born = datetime.date.fromisoformat(value)
            except ValueError:
                problems[name] = "a date as YYYY-MM-DD"
            else:
                if not (today - datetime.timedelta(days=130 * 366) <= born <= today):
                    problems[name] = "a date of birth in the past"
        elif name == "phone" and not _PHONE.fullmatch(value):
            problems[name] = "a phone number: digits, spaces, +, -, ( and )"
        kept[name] = value
    if problems:
        raise InvalidFields(problems, code="bad_identity")
    return kept


def message_cost(policy: PricingPolicy, *, photos: int, videograms: int) -> int:
    """Stamps a message with these attachments costs. Raises InvalidInput past the limits."""
    if photos < 0 or videograms < 0:
        raise InvalidInput("attachment counts cannot be negative")
    if photos > policy.max_photos:
        raise InvalidInput(f"at most {policy.max_photos} photos a message", code="too_many_photos")
    if videograms > policy.max_videograms:
        raise InvalidInput(f"at most {policy.max_videograms} videograms a message",
                           code="too_many_videograms")
    return (policy.stamps_per_message + photos * attachment_cost(policy, "photo")
            + videograms * attachment_cost(policy, "videogram"))


def attachment_cost(policy: PricingPolicy, kind: str) -> int:
    """The stamps one attachment of ``kind`` (photo, videogram) adds to a message."""
    if kind == "photo":
        return policy.stamps_per_photo + policy.stamps_per_attachment
    if kind == "videogram":
        return policy.stamps_per_videogram + policy.stamps_per_attachment
    raise InvalidInput(f"an attachment is a photo or a videogram, not {kind!r}")


@dataclass(frozen=True)
class RejectedRefund:
    """What a review decision gives back: ``whole`` the message's whole charge
    (every stamp to the lot it came from), otherwise ``stamps`` of it."""

    whole: bool
    stamps: int


def rejection_refund(policy: PricingPolicy, *, message_stamps: int, delivered: bool,
                     rejected_attachment_stamps: Sequence[int]) -> RejectedRefund:
    """The stamps that come back once every part of a held message is decided.

    Nothing delivered (the whole message rejected): all of its stamps, when
    the agency refunds rejected messages. Something delivered: each rejected
    attachment's own stamps (what it added to the price when sent), when the
    agency refunds rejected attachments; a rejected text alongside a
    delivered photo refunds nothing, as the message was still carried. Never
    more than the message was charged."""
    if message_stamps < 0 or any(s < 0 for s in rejected_attachment_stamps):
        raise InvalidInput("stamps cannot be negative")
    if not delivered:
        back = message_stamps if policy.refund_rejected_stamps else 0
        return RejectedRefund(whole=back > 0, stamps=back)
    if not policy.refund_rejected_attachments:
        return RejectedRefund(whole=False, stamps=0)
    return RejectedRefund(whole=False,
                          stamps=min(message_stamps, sum(rejected_attachment_stamps)))


def check_transfer(policy: PricingPolicy, amount_cents: int) -> None:
    """A prepaid transfer must lie within the agency's limits and steps.

    Raises PolicyRefused naming the limits.
    """
    lo, hi, step = policy.transfer_min_cents, policy.transfer_max_cents, policy.transfer_step_cents
    if not (lo <= amount_cents <= hi) or amount_cents % step:
        raise PolicyRefused(
            f"a transfer must be ${lo / 100:.2f} to ${hi / 100:.2f} in ${step / 100:.2f} steps; "
            f"${amount_cents / 100:.2f} is not", code="transfer_out_of_limits")


@dataclass(frozen=True)
class TrackPrice:
    """One file of a media purchase: its share of the price, and whether the
    resident owns it already (then it is neither charged nor delivered again)."""

    item_id: str
    share_cents: int
    owned: bool


@dataclass(frozen=True)
class MediaQuote:
    """What buying a catalog item costs one resident now."""

    item_id: str
    list_price_cents: int
    tracks: tuple[TrackPrice, ...]

    @property
    def price_cents(self) -> int:
        """The shares of the files not owned yet: what the purchase charges."""
        return sum(t.share_cents for t in self.tracks if not t.owned)

    @property
    def to_buy(self) -> tuple[TrackPrice, ...]:
        return tuple(t for t in self.tracks if not t.owned)


def shares(total_cents: int, parts: int) -> list[int]:
    """An album's price split over its tracks, adding up to the price exactly
    (the first tracks carry the odd cents)."""
    if parts <= 0 or total_cents < 0:
        raise InvalidInput("a price is split over one part or more, and is not negative")
    base, extra = divmod(total_cents, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def media_quote(item_id: str, list_price_cents: int, track_ids: Sequence[str],
                owned: Collection[str]) -> MediaQuote:
    """The price of ``item_id`` (a song, video, or an album of ``track_ids``
    in catalog order) for someone who owns ``owned``: each file carries its
    share of the list price, and a file owned already is not charged again.
    (An album with no tracks has no files to sell, and an empty quote.)"""
    if not track_ids:
        return MediaQuote(item_id, list_price_cents, ())
    return MediaQuote(item_id, list_price_cents, tuple(
        TrackPrice(track, share, track in owned)
        for track, share in zip(track_ids, shares(list_price_cents, len(track_ids)),
                                strict=True)))
