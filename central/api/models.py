"""Request and response bodies of the HTTP API, each field bounded.

Unknown fields are refused (``extra="forbid"``): a typo in a client is an
error it hears about, not a value silently ignored.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Key = Annotated[str, Field(min_length=8, max_length=100, pattern=r"^[\x21-\x7e]+$",
                           description="an idempotency key made by the client")]
Uid = Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                           description="an id made where the record was written")]
Code = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Sha256 = Annotated[str, Field(min_length=64, max_length=64, pattern=r"^[0-9a-f]{64}$")]
Text200 = Annotated[str, Field(min_length=1, max_length=200)]
Pin = Annotated[str, Field(min_length=4, max_length=12, pattern=r"^[0-9]+$")]
Password = Annotated[str, Field(min_length=1, max_length=200)]
SmallInt = Annotated[int, Field(ge=0, le=2**53)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="after")
    def _no_nul(self) -> Body:
        """NUL characters are refused everywhere: no database stores them the same way."""
        for name, value in self:
            if _has_nul(value):
                raise ValueError(f"{name} contains a NUL character")
        return self


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    if isinstance(value, BaseModel):
        return any(_has_nul(v) for _, v in value)
    return False


class ErrorBody(BaseModel):
    error: str
    message: str
    # for a value of named fields refused: each field, and what is wrong with it
    fields: dict[str, str] | None = None


# -- sessions ------------------------------------------------------------------


IdentityValue = Annotated[str, Field(max_length=300)]


class IdentityIn(Body):
    """What a family member says about themselves: the agencies here decide
    which of these are required (``GET /v1/family/identity-fields``); the
    server checks them as the sign-up page does, and keeps only those asked."""

    legal_name: IdentityValue | None = None
    date_of_birth: Annotated[str | None, Field(max_length=10,
                                               description="YYYY-MM-DD")] = None
    phone: IdentityValue | None = None
    street_address: IdentityValue | None = None
    id_document: IdentityValue | None = None

    def given(self) -> dict[str, str]:
        return {name: value for name, value in self if value is not None}


class ContactRegistration(Body):
    email: Annotated[str, Field(min_length=3, max_length=254)]
    name: Text200
    password: Password
    identity: IdentityIn = Field(default_factory=IdentityIn)


class IdentityFieldsOut(BaseModel):
    """The identity fields a family member must give to sign up."""

    required: list[str]


class ContactLogin(Body):
    email: Annotated[str, Field(min_length=3, max_length=254)]
    password: Password


class StaffLogin(Body):
    username: Code
    password: Password


class ResidentLogin(Body):
    agency_id: Code
    pin: Pin


class PinChange(Body):
    old_pin: Pin
    new_pin: Pin


class SessionOut(BaseModel):
    token: str
    expires_at: int
    must_change_pin: bool = False


class Created(BaseModel):
    id: int


# -- family --------------------------------------------------------------------


class ApprovalRequest(Body):
    resident_agency_id: Code
    relationship: Annotated[str, Field(min_length=1, max_length=64)]
    # what the resident's agency asks that the account does not hold yet (kept on it)
    identity: IdentityIn = Field(default_factory=IdentityIn)


class ApprovalOut(BaseModel):
    id: int
    resident_agency_id: str
    resident_name: str | None  # only once staff have approved the contact
    relationship: str
    status: str


class OfferOut(BaseModel):
    id: str
    stamps: int
    price_cents: int
    valid_days: int | None


class FamilyStampPurchase(Body):
    resident_agency_id: Code
    offer_id: Code
    card_token: Annotated[str, Field(min_length=1, max_length=200)]
    idempotency_key: Key


class StampPurchaseOut(BaseModel):
    stamps: int
    price_cents: int
    expires_at: int | None
    replayed: bool


class BalancesOut(BaseModel):
    stamps: int
    prepaid_cents: int | None
    next_expiry: int | None


class AttachmentIn(Body):
    kind: Literal["photo", "videogram"]
    sha256: Sha256
    # A videogram's captions: WebVTT text (sync/captions.py's bounds), or none.
    captions: Annotated[str | None, Field(max_length=16 * 1024)] = None


class FamilyMessage(Body):
    uid: Uid
    resident_agency_id: Code
    body: Annotated[str, Field(max_length=20000)]
    attachments: Annotated[list[AttachmentIn], Field(max_length=10)] = []


class ResidentMessage(Body):
    uid: Uid
    contact_id: Annotated[int, Field(ge=1, le=2**53)]
    body: Annotated[str, Field(max_length=20000)]
    attachments: Annotated[list[AttachmentIn], Field(max_length=10)] = []


class SentOut(BaseModel):
    message_id: int
    uid: str
    status: str
    stamps: int
    replayed: bool


class FeedRecordOut(BaseModel):
    seq: int
    kind: str
    ref: str
    body: dict[str, Any]
    created_at: int


class FeedOut(BaseModel):
    head: int
    records: list[FeedRecordOut]


class BlobOut(BaseModel):
    sha256: str
    size: int
    created: bool


class PartViewOut(BaseModel):
    part: Literal["text", "attachment"]
    position: int | None
    kind: str
    sha256: str | None
    state: Literal["held", "delivered", "rejected"]
    reason_code: str | None
    reason: dict[str, str] | None


class FamilyMessageOut(BaseModel):
    uid: str
    direction: Literal["to_resident", "from_resident"]
    resident_agency_id: str
    status: Literal["held", "delivered", "rejected"]
    body: str
    sent_at: int
    stamps: int
    parts: list[PartViewOut]


class StorageOut(BaseModel):
    """A family account's storage quota: bytes held by uploads not yet
    delivered, and how long an unsent upload is kept."""

    limit: int
    used: int
    left: int
    unsent_days: int


# -- residents at kiosks ---------------------------------------------------------


class ContactOut(BaseModel):
    id: int
    name: str
    relationship: str


class TabletOut(BaseModel):
    serial: str
    status: str
    last_dock_at: int | None


class HomeOut(BaseModel):
    resident_id: int
    agency_id: str
    name: str
    language: str
    stamps: int
    prepaid_cents: int
    trust_cents: int | None
    trust_note: str | None
    feed_head: int
    tablets: list[TabletOut]


class ResidentStampPurchase(Body):
    offer_id: Code
    idempotency_key: Key


class TransferIn(Body):
    amount_cents: Annotated[int, Field(ge=1, le=10_000_000)]
    idempotency_key: Key


class TransferOut(BaseModel):
    amount_cents: int
    prepaid_cents: int
    trust_cents: int | None
    replayed: bool


class ItemOut(BaseModel):
    id: str
    kind: str
    title: str
    artist: str
    album_id: str | None
    label: str
    price_cents: int  # what this resident pays now: tracks they own are not charged again
    list_price_cents: int  # the catalog's price
    tracks: int  # files a purchase delivers (an album's tracks; 1 otherwise)
    owned_tracks: int  # of those, the ones this resident owns already
    sha256: str | None
    duration_s: int
    explicit: bool
    license: str = "commercial"
    # an approved price change not yet in effect: "from <date> this costs ..."
    next_price_cents: int | None = None
    next_price_from: int | None = None


class TrackPriceOut(BaseModel):
    item_id: str
    share_cents: int  # its share of the list price
    owned: bool  # owned already: neither charged nor bought again


class QuoteOut(BaseModel):
    item_id: str
    list_price_cents: int
    price_cents: int  # what a purchase now charges
    tracks: list[TrackPriceOut]


class PurchaseIn(Body):
    item_id: Code
    idempotency_key: Key
    # the price the resident was shown: a purchase that would cost anything else is refused
    expected_price_cents: Annotated[int, Field(ge=0, le=10_000_000)] | None = None


class EntitlementOut(BaseModel):
    id: int
    item_id: str
    title: str
    kind: str
    sha256: str | None
    price_cents: int
    state: str
    created_at: int
    updated_at: int


class TicketIn(Body):
    uid: Uid
    category: Code
    description: Annotated[str, Field(min_length=1, max_length=4000)]
    diagnostics: Annotated[dict[str, Any], Field(max_length=64)] = {}


RequestType = Literal["medical", "grievance", "prea", "legal", "records"]


class RequestIn(Body):
    """An essential request filed at a kiosk. ``kiosk_reference`` and
    ``written_at``: the kiosk kept it while the server was away and printed
    it with a reference it made."""

    uid: Uid
    type: RequestType
    body: Annotated[str, Field(min_length=1, max_length=4000)]
    kiosk_reference: Annotated[str, Field(min_length=1, max_length=48,
                                          pattern=r"^[A-Za-z0-9_-]+$")] | None = None
    written_at: Annotated[int, Field(ge=1, le=2**53)] | None = None


class TabletRequestIn(Body):
    """An essential request the resident drafted on their tablet, signed by it."""

    serial: Annotated[str, Field(min_length=1, max_length=64)]
    uid: Uid
    resident_agency_id: Code
    type: RequestType
    body: Annotated[str, Field(min_length=1, max_length=4000)]
    written_at: Annotated[int, Field(ge=0, le=2**53)]
    signature: Annotated[str, Field(min_length=1, max_length=200)]


class RequestOut(BaseModel):
    id: int
    uid: str
    receipt: str
    type: str
    body: str
    source: str
    kiosk_reference: str | None
    status: str
    written_at: int | None
    created_at: int
    due_at: int
    escalated_at: int | None
    resolved_at: int | None
    history: list[dict[str, Any]]


class TermsIn(Body):
    """The terms exactly as the kiosk showed them, and their language."""

    text: Annotated[str, Field(min_length=1, max_length=20_000)]
    language: Literal["en", "es"]


class TermsAcceptedOut(BaseModel):
    sha256: str
    accepted_at: int
    kiosk_id: str | None


class RequestReplyIn(Body):
    text: Annotated[str, Field(min_length=1, max_length=4000)]
    resolve: bool = False


class TicketOut(BaseModel):
    id: int
    uid: str
    category: str
    description: str
    status: str
    created_at: int
    due_at: int
    escalated_at: int | None
    resolved_at: int | None
    diagnostics: dict[str, Any]
    history: list[dict[str, Any]]
    # when the deadline passed unresolved, and the agency's credit to the resident then
    lapsed_at: int | None = None
    credit_cents: int | None = None


# -- kiosks ----------------------------------------------------------------------


class AlertIn(Body):
    uid: Uid
    reason: Annotated[str, Field(min_length=1, max_length=64)]
    detail: Annotated[str, Field(max_length=1000)] = ""
    tablet_serial: Annotated[str, Field(max_length=64)] | None = None
    resident_agency_id: Annotated[str, Field(max_length=32)] | None = None
    resident_name: Annotated[str, Field(max_length=200)] | None = None
    registered_owner: Annotated[str, Field(max_length=200)] | None = None
    raised_at: Annotated[int, Field(ge=0, le=2**40)]


class HeadsOut(BaseModel):
    heads: dict[str, int]


class DeliveryIn(Body):
    """Delivery progress a kiosk reports. "verified" is set only by a receipt the
    tablet signed, which the sync endpoints check; a kiosk cannot claim it."""

    state: Literal["at_kiosk", "on_tablet"]


class DraftIn(Body):
    """A resident's draft, written and signed on their tablet (text only)."""

    serial: Annotated[str, Field(min_length=1, max_length=64)]
    uid: Uid
    resident_agency_id: Code
    contact_id: Annotated[int, Field(ge=1, le=2**53)]
    body: Annotated[str, Field(min_length=1, max_length=20000)]
    signature: Annotated[str, Field(min_length=1, max_length=200)]  # base64


class VerifiedOut(BaseModel):
    entitlements: list[int]


class RecordsReceiptOut(BaseModel):
    serial: str
    through: int  # the highest feed sequence the tablet has signed for
    last_dock_at: int


class KioskTabletOut(BaseModel):
    serial: str
    resident_id: int | None
    resident_agency_id: str | None
    status: str
    sync_counter: int


class CounterIn(Body):
    """The sync counter a kiosk accepted when it paired a tablet, under a uid
    the kiosk made for this report (the same uid again is the same report)."""

    uid: Uid
    counter: Annotated[int, Field(ge=0, le=2**63 - 1)]


class CounterResetIn(Body):
    """The counter staff set for a tablet they have confirmed is genuine."""

    counter: Annotated[int, Field(ge=0, le=2**63 - 1)]


class CounterOut(BaseModel):
    serial: str
    counter: int  # the tablet's sync counter as the server now holds it
    reported_by: str | None  # the kiosk whose report set it
    reported_at: int | None


# -- staff ---------------------------------------------------------------------


class HoldOut(BaseModel):
    hold_id: int
    status: str
    message: dict[str, Any]
    hits: list[dict[str, Any]]
    held_at: int
    reason_code: str | None
    translation: dict[str, Any] | None
    parts: list[dict[str, Any]]


class Decision(Body):
    """The whole message at once: every part still open decided the same way."""

    approve: bool
    reason_code: Annotated[str, Field(max_length=32)] | None = None
    note: Annotated[str, Field(max_length=1000)] = ""


class PartVerdictIn(Body):
    approve: bool
    reason_code: Annotated[str, Field(max_length=32)] | None = None


class AttachmentVerdictIn(PartVerdictIn):
    position: Annotated[int, Field(ge=0, le=20, description="the attachment's place, from 0")]


class PartsDecision(Body):
    """Some parts of a held message: its text, some attachments, or both."""

    text: PartVerdictIn | None = None
    attachments: Annotated[list[AttachmentVerdictIn], Field(max_length=20)] = []
    note: Annotated[str, Field(max_length=1000)] = ""


class PartStateOut(BaseModel):
    part: Literal["text", "attachment"]
    position: int | None
    kind: str
    state: Literal["open", "approved", "rejected"]
    reason_code: str | None
    reviewer_id: int | None
    decided_at: int | None


class DecidedOut(BaseModel):
    hold_id: int
    status: Literal["open", "approved", "rejected", "partial"]
    parts: list[PartStateOut]
    stamps_refunded: int


class QueueHitOut(BaseModel):
    field: str
    term: str | None
    start: int | None
    end: int | None
    excerpt: str | None
    scope: str | None
    language: str | None
    list_version: int | None
    policy: str | None
    text: str | None


class QueueAttachmentOut(BaseModel):
    position: int
    kind: str
    sha256: str
    media_type: str
    size: int
    state: Literal["open", "approved", "rejected"]
    reason_code: str | None


class QueueItemOut(BaseModel):
    hold_id: int
    status: str
    held_at: int
    message_id: int
    message_uid: str
    direction: str
    body: str
    sent_at: int
    stamps: int
    resident_id: int
    resident_agency_id: str
    resident_name: str
    facility_id: str
    unit_id: str
    contact_id: int
    contact_name: str
    hits: list[QueueHitOut]
    translation: dict[str, Any] | None
    text: PartStateOut
    attachments: list[QueueAttachmentOut]


class ReviewQueueOut(BaseModel):
    items: list[QueueItemOut]
    page: int
    per_page: int
    total: int


class KeywordListIn(Body):
    scope: Literal["agency", "facility", "unit", "resident"]
    scope_id: Code
    language: Annotated[str, Field(min_length=2, max_length=8, pattern=r"^[a-z]+$")]
    terms: Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=20000)]
    expected_version: Annotated[int, Field(ge=0, le=2**31)] | None = None


class KeywordListOut(BaseModel):
    id: int
    scope: str
    scope_id: str
    language: str
    version: int
    terms: list[str]


class ApprovalDecision(Body):
    approve: bool
    note: Annotated[str, Field(max_length=500)] = ""


class StaffApprovalOut(BaseModel):
    id: int
    resident_id: int
    contact_id: int
    contact_name: str
    contact_email: str
    relationship: str
    status: str
    requested_at: int


class NoteIn(Body):
    text: Annotated[str, Field(min_length=1, max_length=2000)]


class AckIn(Body):
    note: Annotated[str, Field(max_length=2000)] = ""


class AlertOut(BaseModel):
    id: int
    uid: str
    kiosk_id: str
    location_code: str
    reason: str
    detail: str
    tablet_serial: str | None
    resident_agency_id: str | None
    resident_name: str | None
    registered_owner: str | None
    raised_at: int
    status: str
    acknowledged_by: int | None
    acknowledged_at: int | None
    notes: list[dict[str, Any]]


class ReplyIn(Body):
    text: Annotated[str, Field(max_length=4000)] = ""
    canned: Annotated[str, Field(max_length=32)] | None = None
    resolve: bool = False


class ResidentIn(Body):
    agency_id: Code
    agency: Code
    name: Text200
    facility_id: Code
    unit_id: Code
    language: Annotated[str, Field(min_length=2, max_length=8, pattern=r"^[a-z]+$")] = "en"


class NewResidentOut(BaseModel):
    id: int
    agency_id: str
    first_pin: str


class PinResetOut(BaseModel):
    pin: str


class TabletIn(Body):
    serial: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")]
    certificate: Annotated[str, Field(min_length=1, max_length=8192)] | None = None  # PEM
    facility_id: Code | None = None  # an agency administrator says which facility's


class BlobReceiptIn(Body):
    """A tablet's signed statement that it holds a whole blob."""

    serial: Annotated[str, Field(min_length=1, max_length=64)]
    sha256: Sha256
    signature: Annotated[str, Field(min_length=1, max_length=200)]  # base64


class DeliveryReceiptIn(Body):
    """A tablet's signed statement that it holds a whole blob for its owner, as
    the file of these entitlements of theirs."""

    serial: Annotated[str, Field(min_length=1, max_length=64)]
    owner: Annotated[str, Field(min_length=1, max_length=32)]  # the owner's agency ID
    sha256: Sha256
    entitlements: Annotated[list[Annotated[int, Field(ge=1, le=2**62)]],
                            Field(min_length=1, max_length=64)]
    signature: Annotated[str, Field(min_length=1, max_length=200)]  # base64


class RecordsReceiptIn(Body):
    """A tablet's signed statement that, in one sync session, it committed its
    resident's feed through sequence ``through``."""

    serial: Annotated[str, Field(min_length=1, max_length=64)]
    session: Annotated[str, Field(min_length=24, max_length=24,
                                  pattern=r"^[A-Za-z0-9+/]{22}==$",
                                  description="base64 of the 16-byte session id")]
    through: SmallInt
    batch_digest: Annotated[str, Field(min_length=44, max_length=44,
                                       pattern=r"^[A-Za-z0-9+/]{43}=$",
                                       description="base64 of the 32-byte batch digest")]
    signature: Annotated[str, Field(min_length=1, max_length=344)]  # base64


class AssignIn(Body):
    """Whom a tablet goes to: the resident's id, or their agency ID (what a
    technician at a kiosk reads off the resident's card)."""

    resident_id: Annotated[int, Field(ge=1, le=2**53)] | None = None
    resident_agency_id: Code | None = None

    @model_validator(mode="after")
    def _one_of(self) -> AssignIn:
        if (self.resident_id is None) == (self.resident_agency_id is None):
            raise ValueError("give resident_id or resident_agency_id, not both")
        return self


class TabletStatusIn(Body):
    status: Literal["active", "lost", "released", "retired"]


class KioskIn(Body):
    id: Code
    location_code: Annotated[str, Field(min_length=1, max_length=64)]
    unit_id: Code
    certificate_fingerprint: Sha256 | None = None


class KioskStatusIn(Body):
    status: Literal["in_service", "out_of_service", "retired"]


class CatalogItemIn(Body):
    id: Code
    kind: Literal["song", "album", "music_video"]
    title: Text200
    artist: Text200
    album_id: Code | None = None
    label: Text200
    price_cents: Annotated[int, Field(ge=0, le=100_000)]
    sha256: Sha256 | None = None
    duration_s: Annotated[int, Field(ge=0, le=86400)] = 0
    explicit: bool = False
    license: Literal["commercial", "public_domain"] = "commercial"


class OfferIn(Body):
    id: Code
    stamps: Annotated[int, Field(ge=1, le=10_000)]
    price_cents: Annotated[int, Field(ge=1, le=100_000)]
    valid_days: Annotated[int, Field(ge=1, le=366)] | None = None


class PayoutOptionIn(Body):
    id: Code
    label: Text200
    fee_cents: Annotated[int, Field(ge=0, le=100_000)] = 0


class PolicyBody(Body):
    """An agency's prices and limits (see central/pricing.py)."""

    stamps_per_message: Annotated[int, Field(ge=0, le=100)]
    stamps_per_photo: Annotated[int, Field(ge=0, le=100)]
    stamps_per_videogram: Annotated[int, Field(ge=0, le=100)]
    stamps_per_attachment: Annotated[int, Field(ge=0, le=100)] = 0
    offers: Annotated[list[OfferIn], Field(max_length=20)]
    transfer_min_cents: Annotated[int, Field(ge=1, le=1_000_000)]
    transfer_max_cents: Annotated[int, Field(ge=1, le=1_000_000)]
    transfer_step_cents: Annotated[int, Field(ge=1, le=1_000_000)]
    max_message_chars: Annotated[int, Field(ge=1, le=20_000)] = 6000
    max_photos: Annotated[int, Field(ge=0, le=10)] = 5
    max_videograms: Annotated[int, Field(ge=0, le=10)] = 1
    refund_rejected_stamps: bool = True
    refund_rejected_attachments: bool = True
    review_attachments: bool = False
    family_storage_quota_bytes: Annotated[int, Field(ge=0, le=2**40)] = 200 * 1024 * 1024
    unsent_upload_days: Annotated[int, Field(ge=1, le=365)] = 7
    refund_window_days: Annotated[int, Field(ge=1, le=365)] = 14
    tablet_lock_days: Annotated[int, Field(ge=1, le=365)] = 14
    # what a family member must tell about themselves before asking to be a contact
    family_identity_fields: Annotated[list[Literal["legal_name", "date_of_birth", "phone",
                                                   "street_address", "id_document"]],
                                      Field(max_length=5)] = []
    request_deadline_days: Annotated[dict[Literal["medical", "grievance", "prea", "legal",
                                                  "records"], Annotated[int, Field(ge=1, le=365)]],
                                     Field(min_length=5, max_length=5)] | None = None
    prea_readers: Annotated[list[Literal["prea", "agency_administrator"]],
                            Field(max_length=2)] | None = None
    release_retention_days: Annotated[int, Field(ge=1, le=36_500)] = 365
    payout_options: Annotated[list[PayoutOptionIn], Field(min_length=1, max_length=10)] | None \
        = None
    price_notice_days: Annotated[int, Field(ge=0, le=365)] = 7
    tablet_price_cents: Annotated[int, Field(ge=0, le=100_000)] = 0
    commission_tablets_bps: Annotated[int, Field(ge=0, le=10_000)] = 0
    commission_media_bps: Annotated[int, Field(ge=0, le=10_000)] = 0
    commission_stamps_bps: Annotated[int, Field(ge=0, le=10_000)] = 0
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"
    # credited to a resident's prepaid money when a ticket passes its deadline unresolved
    ticket_late_credit_cents: Annotated[int, Field(ge=0, le=100_000)] = 0


class KioskPolicyOut(BaseModel):
    """What a kiosk needs of its agency's policy: prices to show residents
    before they spend, and the rules it hands each tablet at a dock."""

    agency_id: str
    stamps_per_message: int
    stamps_per_photo: int
    stamps_per_videogram: int
    stamps_per_attachment: int
    max_message_chars: int
    transfer_min_cents: int
    transfer_max_cents: int
    transfer_step_cents: int
    refund_window_days: int
    tablet_lock_days: int
    # what the terms and the requests screen say: days staff have to answer
    ticket_resolution_days: int
    request_days_medical: int
    request_days_grievance: int
    request_days_prea: int
    request_days_legal: int
    request_days_records: int


class StaffIn(Body):
    username: Code
    name: Text200
    role: Literal["reviewer", "administrator", "technician", "investigator", "prea"]
    password: Password
    facility_id: Code | None = None  # None: an agency administrator
    agency_id: Code | None = None


class StaffStatusIn(Body):
    status: Literal["active", "disabled"]


class AuditOut(BaseModel):
    id: int
    at: int
    staff_id: int | None
    action: str
    target: str
    detail: dict[str, Any]


class PriceChangeIn(Body):
    """A proposed price: ``catalog:<id>``, ``stamps:<rate>`` or ``offer:<id>``
    (these two name their agency)."""

    target: Annotated[str, Field(min_length=3, max_length=48,
                                 pattern=r"^(catalog|stamps|offer):[A-Za-z0-9][A-Za-z0-9._-]*$")]
    new_value: Annotated[int, Field(ge=0, le=100_000)]
    effective_at: Annotated[int, Field(ge=1, le=2**53)]
    agency_id: Code | None = None


class PriceChangeOut(BaseModel):
    id: int
    agency_id: str | None
    target: str
    old_value: int
    new_value: int
    status: str
    proposed_by: int | None
    proposed_at: int
    approved_by: int | None
    approved_at: int | None
    effective_at: int
    applied_at: int | None


class AttorneyIn(Body):
    """A family-side account asks to be registered as an attorney."""

    agency_id: Code
    bar_number: Annotated[str, Field(min_length=1, max_length=32)]
    jurisdiction: Annotated[str, Field(min_length=1, max_length=32)]


class AttorneyOut(BaseModel):
    contact_id: int
    name: str
    email: str
    agency_id: str
    bar_number: str
    jurisdiction: str
    status: str
    requested_at: int
    decided_at: int | None


class AttorneyDecision(Body):
    verified: bool


class ReleaseIn(Body):
    designee_contact_id: Annotated[int, Field(ge=1, le=2**53)] | None = None


class ReleaseOut(BaseModel):
    resident_id: int
    agency_id: str
    released_at: int
    retain_until: int
    claim_code: str | None  # shown once: the resident links their family-side login with it
    designee_contact_id: int | None
    payout_option: str | None
    payout_cents: int | None
    payout_fee_cents: int | None


class ClaimIn(Body):
    agency_id: Code
    code: Annotated[str, Field(min_length=12, max_length=20)]


class PayoutQuoteOut(BaseModel):
    option: str
    label: str
    fee_cents: int
    net_cents: int


class PayoutsOut(BaseModel):
    balance_cents: int
    options: list[PayoutQuoteOut]


class PayoutIn(Body):
    option: Code
    expected_fee_cents: Annotated[int, Field(ge=0, le=100_000)]
class ReportLineOut(BaseModel):
    """One facility's month, the families' line, or the total; money in cents."""

    place: str
    name: str
    tablets_issued: int
    tablet_sales_cents: int
    songs: int
    albums: int
    videos: int
    media_sales_cents: int
    media_refunds_cents: int
    media_net_cents: int
    messages: int
    message_stamps: int
    stamps_sold: int
    stamp_sales_cents: int
    revenue_cents: int
    commission_tablets_cents: int
    commission_media_cents: int
    commission_stamps_cents: int
    commission_cents: int


class MonthlyReportOut(BaseModel):
    agency: str
    month: str
    timezone: str
    starts_at: int
    ends_at: int
    commission_tablets_bps: int
    commission_media_bps: int
    commission_stamps_bps: int
    lines: list[ReportLineOut]
    total: ReportLineOut
