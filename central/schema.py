"""The central server's tables (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Times are whole seconds since the epoch (UTC) in BIGINT columns: the same
value on both databases, compared without time-zone surprises. Money is in
cents and stamps are whole stamps, both BIGINT. The Alembic migrations in
``central/migrations`` create exactly these tables; a test compares them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# BIGINT ids that still autoincrement on SQLite (only INTEGER PRIMARY KEY does there).
Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


def _id() -> Column[int]:
    return Column("id", Id, primary_key=True, autoincrement=True)


# -- people and places ---------------------------------------------------------

agencies = Table(
    "agencies", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("working_language", String(8), nullable=False),
    Column("policy", Text, nullable=False),  # PricingPolicy as JSON
    Column("created_at", BigInteger, nullable=False),
)

facilities = Table(
    "facilities", metadata,
    Column("id", String(32), primary_key=True),
    Column("agency_id", ForeignKey("agencies.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("staff_email", String(254), nullable=False),
)

units = Table(
    "units", metadata,
    Column("id", String(32), primary_key=True),
    Column("facility_id", ForeignKey("facilities.id"), nullable=False),
    Column("name", String(200), nullable=False),
)

residents = Table(
    "residents", metadata,
    _id(),
    Column("agency_id", String(32), nullable=False, unique=True),  # the agency's ID number
    Column("agency", ForeignKey("agencies.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("facility_id", ForeignKey("facilities.id"), nullable=False),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("language", String(8), nullable=False),
    Column("status", String(16), nullable=False),  # active, released, transferred
    Column("pin_hash", String(200), nullable=False),
    Column("pin_must_change", Boolean, nullable=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", BigInteger, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    Index(None, "unit_id"),
)

contacts = Table(
    "contacts", metadata,
    _id(),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("status", String(16), nullable=False),  # active, disabled
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", BigInteger, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
    # what the agencies ask a family member to say about themselves (JSON: field -> value;
    # the fields are in each agency's policy, PricingPolicy.family_identity_fields)
    Column("identity", Text, nullable=False, default="{}", server_default="{}"),
)

approvals = Table(
    "approvals", metadata,
    _id(),
    Column("resident_id", ForeignKey("residents.id"), nullable=False),
    Column("contact_id", ForeignKey("contacts.id"), nullable=False),
    Column("relationship", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # pending, approved, denied, revoked
    Column("requested_at", BigInteger, nullable=False),
    Column("decided_by", ForeignKey("staff.id"), nullable=True),
    Column("decided_at", BigInteger, nullable=True),
    Column("note", String(500), nullable=False, default=""),
    UniqueConstraint("resident_id", "contact_id"),
    Index(None, "contact_id"),
)

staff = Table(
    "staff", metadata,
    _id(),
    Column("username", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),  # reviewer, administrator, technician, investigator
    Column("agency_id", ForeignKey("agencies.id"), nullable=False),
    # None: the whole agency (an agency administrator); otherwise the one facility they see
    Column("facility_id", ForeignKey("facilities.id"), nullable=True),
    Column("status", String(16), nullable=False, server_default="active"),  # active, disabled
    Column("password_hash", String(200), nullable=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", BigInteger, nullable=False, default=0),
    Column("created_at", BigInteger, nullable=False),
)

sessions = Table(
    "sessions", metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 of the bearer token
    Column("subject", String(16), nullable=False),  # contact, staff, resident
    Column("subject_id", BigInteger, nullable=False),
    Column("kiosk_id", String(32), nullable=True),  # a resident's session belongs to a kiosk
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

kiosks = Table(
    "kiosks", metadata,
    Column("id", String(32), primary_key=True),
    Column("location_code", String(64), nullable=False, unique=True),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("certificate_fingerprint", String(64), nullable=True, unique=True),
    Column("status", String(16), nullable=False),  # in_service, out_of_service, retired
    Column("last_seen_at", BigInteger, nullable=True),
)

tablets = Table(
    "tablets", metadata,
    Column("serial", String(64), primary_key=True),
    Column("certificate_fingerprint", String(64), nullable=True),
    Column("certificate", Text, nullable=True),  # PEM: its key signs receipts and drafts
    Column("resident_id", ForeignKey("residents.id"), nullable=True),
    Column("facility_id", ForeignKey("facilities.id"), nullable=True),  # whose stock it is
    Column("status", String(16), nullable=False),  # active, lost, released, retired
    Column("last_dock_at", BigInteger, nullable=True),
    Column("last_dock_kiosk", String(32), nullable=True),
    Column("sync_counter", BigInteger, nullable=False, default=0),
    # the highest feed sequence a receipt signed by this tablet says it committed
    Column("feed_through", BigInteger, nullable=False, default=0, server_default="0"),
    # how many times it was given to a resident who did not hold it just before:
    # a receipt that names no owner is taken only from a tablet given once
    Column("owners", Integer, nullable=False, default=0, server_default="0"),
    Index(None, "resident_id"),
)

# Every sync counter a kiosk reported for a tablet it paired, under a uid the
# kiosk made; an accepted report raised tablets.sync_counter to its counter.
tablet_counters = Table(
    "tablet_counters", metadata,
    _id(),
    Column("uid", String(64), nullable=False),  # made by the kiosk: unique per kiosk
    Column("kiosk_id", ForeignKey("kiosks.id"), nullable=False),
    Column("serial", ForeignKey("tablets.serial"), nullable=False),
    Column("counter", BigInteger, nullable=False),
    Column("accepted", Boolean, nullable=False),
    Column("reported_at", BigInteger, nullable=False),
    UniqueConstraint("kiosk_id", "uid"),
    Index(None, "serial", "counter"),
)

# -- content -------------------------------------------------------------------

blobs = Table(
    "blobs", metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Who uploaded a blob, for what: a message's attachment must be the sender's own
# upload for messages, and a catalog item's file an upload for media.
blob_uploads = Table(
    "blob_uploads", metadata,
    Column("sha256", ForeignKey("blobs.sha256"), primary_key=True),
    Column("uploader", String(48), primary_key=True),  # contact:<id>, resident:<id>, staff:<id>
    Column("purpose", String(16), primary_key=True),  # message, media
    Column("media_type", String(64), nullable=False),
    Column("at", BigInteger, nullable=False),
    Index(None, "uploader"),  # a family's storage quota sums its uploads
)

messages = Table(
    "messages", metadata,
    _id(),
    Column("uid", String(64), nullable=False, unique=True),  # made where it was written
    Column("resident_id", ForeignKey("residents.id"), nullable=False),
    Column("contact_id", ForeignKey("contacts.id"), nullable=False),
    Column("direction", String(16), nullable=False),  # to_resident, from_resident
    Column("body", Text, nullable=False),
    Column("language", String(8), nullable=True),
    Column("status", String(16), nullable=False),  # held, delivered, rejected
    Column("stamps", Integer, nullable=False),
    Column("request_digest", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("decided_at", BigInteger, nullable=True),
    Column("reason_code", String(32), nullable=True),
    # privileged mail with a registered attorney: body sealed, never screened
    Column("legal", Boolean, nullable=False, default=False, server_default="0"),
    Index(None, "resident_id", "created_at"),
    Index(None, "status"),
    # a month's messages per resident, read from the index alone (the monthly report)
    Index(None, "created_at", "resident_id", "status", "stamps"),
)

attachments = Table(
    "attachments", metadata,
    Column("message_id", ForeignKey("messages.id"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # photo, videogram
    Column("blob_sha256", ForeignKey("blobs.sha256"), nullable=False),
    Column("captions", Text, nullable=True),  # a videogram's WebVTT track, from its sender
    # the stamps it added to the message's price when sent (None: sent before
    # attachments were priced one by one)
    Column("stamps", Integer, nullable=True),
    # held (its message waits for review), delivered, rejected (withheld with a reason)
    Column("state", String(16), nullable=False, server_default="delivered"),
    Column("reason_code", String(32), nullable=True),
    Column("reviewer_id", ForeignKey("staff.id"), nullable=True),
    Column("decided_at", BigInteger, nullable=True),
)

feeds = Table(
    "feeds", metadata,
    Column("feed", String(48), primary_key=True),  # resident:<id> or contact:<id>
    Column("head", BigInteger, nullable=False),
)

feed_records = Table(
    "feed_records", metadata,
    Column("feed", String(48), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("kind", String(24), nullable=False),  # message, notice, entitlement, receipt, ...
    Column("ref", String(64), nullable=False),
    Column("body", Text, nullable=False),  # JSON
    Column("created_at", BigInteger, nullable=False),
)

# -- money ---------------------------------------------------------------------

ledger_accounts = Table(
    "ledger_accounts", metadata,
    Column("id", String(96), primary_key=True),
    Column("unit", String(8), nullable=False),  # cents, stamps
    Column("may_go_negative", Boolean, nullable=False),
    Column("balance", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),  # stamps of a monthly plan
    Column("owner", String(48), nullable=True),  # resident:<id> / contact:<id>
    Index(None, "owner"),
)

ledger_transactions = Table(
    "ledger_transactions", metadata,
    _id(),
    Column("idempotency_key", String(128), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("memo", String(200), nullable=False),
    Column("digest", String(64), nullable=False),  # of the entries, to tell a replay from a clash
    Column("created_at", BigInteger, nullable=False),
    Column("owner", String(48), nullable=True),  # the person whose accounts it touches
    Index(None, "created_at"),
)

ledger_entries = Table(
    "ledger_entries", metadata,
    Column("transaction_id", ForeignKey("ledger_transactions.id"), primary_key=True),
    Column("account_id", ForeignKey("ledger_accounts.id"), primary_key=True),
    Column("amount", BigInteger, nullable=False),
    CheckConstraint("amount <> 0", name="nonzero"),
    Index(None, "account_id"),
)

transfers = Table(
    "transfers", metadata,
    _id(),
    Column("idempotency_key", String(128), nullable=False, unique=True),
    Column("resident_id", ForeignKey("residents.id"), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # debiting, completed, failed
    Column("trust_debit_id", String(100), nullable=True),
    Column("created_at", BigInteger, nullable=False),
)

# -- media ---------------------------------------------------------------------

catalog = Table(
    "catalog", metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(16), nullable=False),  # song, album, music_video
    Column("title", String(200), nullable=False),
    Column("artist", String(200), nullable=False),
    Column("album_id", ForeignKey("catalog.id"), nullable=True),
    Column("label", String(200), nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("blob_sha256", ForeignKey("blobs.sha256"), nullable=True),
    Column("duration_s", Integer, nullable=False),
    Column("explicit", Boolean, nullable=False),
    Column("active", Boolean, nullable=False),
    # commercial, or public_domain (which is never priced above zero)
    Column("license", String(32), nullable=False, default="commercial",
           server_default="commercial"),
    Index(None, "album_id"),
)

entitlements = Table(
    "entitlements", metadata,
    _id(),
    Column("resident_id", ForeignKey("residents.id"), nullable=False),
    Column("item_id", ForeignKey("catalog.id"), nullable=False),
    Column("purchase_key", String(128), nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),  # paid, at_kiosk, on_tablet, verified, refunded
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("receipt", LargeBinary, nullable=True),
    UniqueConstraint("purchase_key", "item_id"),
    Index(None, "resident_id"),
)

# One row a media purchase: what was bought (a song, a video, an album), for
# whom and for how much; its files are the entitlements of the same key.
purchases = Table(
    "purchases", metadata,
    Column("purchase_key", String(128), primary_key=True),
    Column("resident_id", ForeignKey("residents.id"), nullable=False),
    Column("item_id", ForeignKey("catalog.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # song, album, music_video
    Column("price_cents", BigInteger, nullable=False),  # what was charged
    Column("created_at", BigInteger, nullable=False),
    Index(None, "created_at"),
)

# A tablet given to a resident who did not hold it just before, at the price
# the agency charged then (0: given free).
tablet_issues = Table(
    "tablet_issues", metadata,
    _id(),
    Column("serial", ForeignKey("tablets.serial"), nullable=False),
    Column("resident_id", ForeignKey("residents.id"), nullable=False),
    Column("facility_id", ForeignKey("facilities.id"), nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("issued_at", BigInteger, nullable=False),
    Index(None, "issued_at"),
)

# -- screening and review --------------------------------------------------------

keyword_lists = Table(
    "keyword_lists", metadata,
    _id(),
    Column("scope", String(16), nullable=False),  # agency, facility, unit, resident
    Column("scope_id", String(32), nullable=False),
    Column("language", String(8), nullable=False),
    Column("version", Integer, nullable=False),
    UniqueConstraint("scope", "scope_id", "language"),
)

keyword_list_versions = Table(
    "keyword_list_versions", metadata,
    Column("list_id", ForeignKey("keyword_lists.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("terms", Text, nullable=False),  # JSON array
    Column("edited_by", ForeignKey("staff.id"), nullable=False),
    Column("edited_at", BigInteger, nullable=False),
)

holds = Table(
    "holds", metadata,
    _id(),
    Column("message_id", ForeignKey("messages.id"), nullable=False, unique=True),
    Column("hits", Text, nullable=False),  # JSON
    # open; once every part is decided: approved (all of it), rejected (none of
    # it), partial (the rest delivered without what was rejected)
    Column("status", String(16), nullable=False),
    Column("reviewer_id", ForeignKey("staff.id"), nullable=True),  # who closed it
    Column("reason_code", String(32), nullable=True),
    Column("note", String(1000), nullable=False, default=""),
    Column("held_at", BigInteger, nullable=False),
    Column("decided_at", BigInteger, nullable=True),
    # the text's own decision (each attachment's is on its attachments row)
    Column("text_status", String(16), nullable=False, server_default="open"),
    Column("text_reason_code", String(32), nullable=True),
    Column("text_reviewer_id", ForeignKey("staff.id"), nullable=True),
    Column("text_decided_at", BigInteger, nullable=True),
    Column("translation", Text, nullable=True),  # JSON: made once, for reviewers
    Index(None, "status"),
)

# -- staff work ----------------------------------------------------------------

alerts = Table(
    "alerts", metadata,
    _id(),
    Column("uid", String(64), nullable=False),  # made by the kiosk: unique per kiosk
    Column("kiosk_id", ForeignKey("kiosks.id"), nullable=False),
    Column("location_code", String(64), nullable=False),
    Column("reason", String(64), nullable=False),
    Column("detail", String(1000), nullable=False),
    Column("tablet_serial", String(64), nullable=True),
    Column("resident_agency_id", String(32), nullable=True),
    Column("resident_name", String(200), nullable=True),
    Column("registered_owner", String(200), nullable=True),
    Column("raised_at", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # open, acknowledged
    Column("acknowledged_by", ForeignKey("staff.id"), nullable=True),
    Column("acknowledged_at", BigInteger, nullable=True),
    UniqueConstraint("kiosk_id", "uid"),
    Index(None, "status"),
)

alert_notes = Table(
    "alert_notes", metadata,
    _id(),
    Column("alert_id", ForeignKey("alerts.id"), nullable=False),
    Column("staff_id", ForeignKey("staff.id"), nullable=False),
    Column("text", String(2000), nullable=False),
    Column("at", BigInteger, nullable=False),
    Index(None, "alert_id"),
)

tickets = Table(
    "tickets", metadata,
    _id(),
    Column("uid", String(64), nullable=False, unique=True),
    Column("resident_id", ForeignKey("residents.id"), nullable=False),
    Column("kiosk_id", ForeignKey("kiosks.id"), nullable=True),
    Column("category", String(32), nullable=False),
    Column("description", String(4000), nullable=False),
    Column("diagnostics", Text, nullable=False),  # JSON, bounded
    Column("status", String(16), nullable=False),  # open, answered, escalated, resolved
    Column("created_at", BigInteger, nullable=False),
    Column("due_at", BigInteger, nullable=False),
    Column("escalated_at", BigInteger, nullable=True),
    Column("resolved_at", BigInteger, nullable=True),
    # when the deadline was found passed unresolved (once: set by a compare-and-set), and
    # the credit the agency's policy gave the resident then (0: none)
    Column("lapsed_at", BigInteger, nullable=True),
    Column("credit_cents", BigInteger, nullable=True),
    Index(None, "resident_id"),
    Index(None, "status", "due_at"),
)

ticket_events = Table(
    "ticket_events", metadata,
    _id(),
    Column("ticket_id", ForeignKey("tickets.id"), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(48), nullable=False),  # resident:<id>, staff:<id>, system
    Column("kind", String(16), nullable=False),  # filed, reply, canned, status, escalated
    Column("text", String(4000), nullable=False),
    Column("status", String(16), nullable=True),
    Index(None, "ticket_id"),
)

audit_log = Table(
    "audit_log", metadata,
    _id(),
    Column("at", BigInteger, nullable=False),
    Column("staff_id", ForeignKey("staff.id"), nullable=True),
    Column("action", String(64), nullable=False),
    Column("target", String(96), nullable=False),
    Column("detail", Text, nullable=False),  # JSON
    # where it happened, for who may read it: a facility's, or (no facility) an agency's
    Column("facility_id", String(32), nullable=True),
    Column("agency_id", String(32), nullable=True),
    Index(None, "at"),
)

# -- firmware (docs/firmware.md) -------------------------------------------------

# An agency's firmware repository as its administrators published it: every root
# version ("3.root.json") and the current timestamp, snapshot and targets, the
# bytes exactly as signed (central checks them with the device's own checks).
firmware_metadata = Table(
    "firmware_metadata", metadata,
    Column("agency_id", ForeignKey("agencies.id"), primary_key=True),
    Column("name", String(32), primary_key=True),  # N.root.json, timestamp.json, ...
    Column("version", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# An image's bytes are a blob (central/blobs.py) named by the SHA-256 its signed
# target gives; this row says whose repository names it and as what.
firmware_images = Table(
    "firmware_images", metadata,
    Column("agency_id", ForeignKey("agencies.id"), primary_key=True),
    Column("name", String(128), primary_key=True),  # <model>/<kind>-<version>.img
    Column("sha256", String(64), nullable=False),
    Column("length", BigInteger, nullable=False),
    Column("model", String(32), nullable=False),
    Column("kind", String(16), nullable=False),  # tablet, kiosk
    Column("version", BigInteger, nullable=False),
    Column("uploaded_at", BigInteger, nullable=False),
    Index(None, "sha256"),
)

# Which devices may take an image now: those of a facility (or one unit of it)
# whose serial's hash falls under ``percent``; staff pause or stop it.
firmware_rollouts = Table(
    "firmware_rollouts", metadata,
    _id(),
    Column("agency_id", ForeignKey("agencies.id"), nullable=False),
    Column("image", String(128), nullable=False),
    Column("facility_id", ForeignKey("facilities.id"), nullable=False),
    Column("unit_id", ForeignKey("units.id"), nullable=True),  # None: the whole facility
    Column("percent", Integer, nullable=False),
    Column("state", String(16), nullable=False),  # active, paused, stopped
    Column("created_by", ForeignKey("staff.id"), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    CheckConstraint("percent >= 0 AND percent <= 100", name="percent"),
    Index(None, "facility_id", "state"),
)

# What each device last reported running, at its last dock (tablets) or round (kiosks).
firmware_reports = Table(
    "firmware_reports", metadata,
    Column("serial", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("model", String(32), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("slot", String(1), nullable=False),
    Column("event", String(16), nullable=False),  # marked_good, rolled_back, ...
    Column("root_version", BigInteger, nullable=False),
    Column("kiosk_id", ForeignKey("kiosks.id"), nullable=False),
    Column("facility_id", ForeignKey("facilities.id"), nullable=False),
    Column("unit_id", ForeignKey("units.id"), nullable=False),
    Column("reported_at", BigInteger, nullable=False),
    Index(None, "facility_id"),
)

# A feature an agency turns off (or on) on every tablet at its next dock.
feature_switches = Table(
    "feature_switches", metadata,
    Column("agency_id", ForeignKey("agencies.id"), primary_key=True),
    Column("feature", String(32), primary_key=True),
    Column("enabled", Boolean, nullable=False),
    Column("updated_by", ForeignKey("staff.id"), nullable=True),
    Column("updated_at", BigInteger, nullable=False),
)

# -- what residents and families are owed ------------------------------------------

# Essential requests (medical, grievance, PREA, legal, records): filed at a
# kiosk or drafted on a tablet under a uid made there; the receipt number is
# what the resident quotes. A kiosk that could not reach the server printed
# its own reference, kept here too.
essential_requests = Table(
    "essential_requests", metadata,
    _id(),
    Column("uid", String(64), nullable=False, unique=True),
    Column("receipt", String(24), nullable=False, unique=True),
    Column("resident_id", ForeignKey("residents.id"), nullable=False),
    Column("facility_id", String(32), nullable=False),  # the resident's when filed
    Column("type", String(16), nullable=False),  # medical, grievance, prea, legal, records
    Column("body", Text, nullable=False),
    Column("request_digest", String(64), nullable=False),
    Column("source", String(16), nullable=False),  # kiosk, tablet
    Column("kiosk_id", String(32), nullable=True),
    Column("tablet_serial", String(64), nullable=True),
    Column("kiosk_reference", String(48), nullable=True),
    Column("status", String(16), nullable=False),  # filed, answered, escalated, resolved
    Column("written_at", BigInteger, nullable=True),  # when the resident wrote it
    Column("created_at", BigInteger, nullable=False),
    Column("due_at", BigInteger, nullable=False),
    Column("escalated_at", BigInteger, nullable=True),
    Column("resolved_at", BigInteger, nullable=True),
    Index(None, "resident_id"),
    Index(None, "status", "due_at"),
)

essential_request_events = Table(
    "essential_request_events", metadata,
    _id(),
    Column("request_id", ForeignKey("essential_requests.id"), nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("actor", String(48), nullable=False),  # resident:<id>, staff:<id>, system
    Column("kind", String(16), nullable=False),  # filed, reply, escalated, resolved
    Column("text", String(4000), nullable=False),
    Column("status", String(16), nullable=True),
    Index(None, "request_id"),
)

# Attorneys: family-side accounts that staff verified as attorneys. Mail
# between a resident and a verified attorney is privileged.
attorneys = Table(
    "attorneys", metadata,
    Column("contact_id", ForeignKey("contacts.id"), primary_key=True),
    Column("agency_id", ForeignKey("agencies.id"), nullable=False),
    Column("bar_number", String(32), nullable=False),
    Column("jurisdiction", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # pending, verified, revoked
    Column("requested_at", BigInteger, nullable=False),
    Column("decided_by", ForeignKey("staff.id"), nullable=True),
    Column("decided_at", BigInteger, nullable=True),
    UniqueConstraint("jurisdiction", "bar_number"),
)

# A resident's release: when, who may download the archive and until when,
# and how the prepaid balance left (the fee shown before the choice).
releases = Table(
    "releases", metadata,
    Column("resident_id", ForeignKey("residents.id"), primary_key=True),
    Column("released_at", BigInteger, nullable=False),
    Column("released_by", ForeignKey("staff.id"), nullable=True),
    Column("retain_until", BigInteger, nullable=False),
    Column("claim_hash", String(64), nullable=True),  # SHA-256 of the one-time claim code
    Column("resident_contact_id", ForeignKey("contacts.id"), nullable=True),
    Column("designee_contact_id", ForeignKey("contacts.id"), nullable=True),
    Column("payout_option", String(32), nullable=True),
    Column("payout_cents", BigInteger, nullable=True),
    Column("payout_fee_cents", BigInteger, nullable=True),
    Column("payout_at", BigInteger, nullable=True),
)

# Price changes: proposed by one agency administrator, approved by another,
# applied at the time announced; the history stays.
price_changes = Table(
    "price_changes", metadata,
    _id(),
    Column("agency_id", ForeignKey("agencies.id"), nullable=True),  # stamps: the agency's
    Column("target", String(48), nullable=False),  # catalog:<item>, stamps:<field or offer>
    # cents for a price; stamps for a stamps_per_* rate
    Column("old_value", BigInteger, nullable=False),
    Column("new_value", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # proposed, approved, applied, withdrawn
    Column("proposed_by", ForeignKey("staff.id"), nullable=True),
    Column("proposed_at", BigInteger, nullable=False),
    Column("approved_by", ForeignKey("staff.id"), nullable=True),
    Column("approved_at", BigInteger, nullable=True),
    Column("effective_at", BigInteger, nullable=False),
    Column("applied_at", BigInteger, nullable=True),
    Index(None, "status", "effective_at"),
)

# Terms a resident accepted: the SHA-256 of the exact text shown.
terms_acceptances = Table(
    "terms_acceptances", metadata,
    _id(),
    Column("resident_id", ForeignKey("residents.id"), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("kiosk_id", String(32), nullable=True),
    Column("accepted_at", BigInteger, nullable=False),
    UniqueConstraint("resident_id", "sha256"),
)
