"""Demo data: an agency with the Washington contract's prices, a facility with
two units and kiosks, staff of every role, residents, families, messages, a
keyword list and a small media catalog with real (generated) audio files,
three of them public-domain works, free.

Every secret here is a DEMO value, printed by ``sallyport central seed --demo``
and meant only for the simulator.
"""

from __future__ import annotations

import io
import logging
import math
import struct
import wave
from dataclasses import dataclass, field

from sqlalchemy import select

from central.errors import NotFound
from central.pricing import PUBLIC_DOMAIN as PUBLIC_DOMAIN_LICENSE
from central.pricing import PricingPolicy, StampOffer
from central.schema import agencies
from central.services import accounts, media, messaging, money, screening_lists
from central.services.core import Central
from central.services.scope import Scope, scope_of

log = logging.getLogger(__name__)

DEMO_STAFF_PASSWORD = "demo staff password"  # noqa: S105 - a published demo credential
DEMO_FAMILY_PASSWORD = "demo family password"  # noqa: S105 - a published demo credential
WASHINGTON = PricingPolicy(
    stamps_per_message=1, stamps_per_photo=1, stamps_per_videogram=4,
    offers=(StampOffer("bundle-20", 20, 500), StampOffer("bundle-35", 35, 750),
            StampOffer("bundle-60", 60, 1000), StampOffer("plan-30", 30, 600, valid_days=30)))
RESIDENTS = (  # agency ID, name, unit, language, demo PIN
    ("874512", "Marcus Webb", "CC-A", "en", "482916"),
    ("903377", "Lucia Ramos", "CC-A", "es", "517340"),
    ("761204", "Dale Porter", "CC-B", "en", "639251"),
)
FAMILIES = (  # email, name, resident, relationship
    ("rosa.webb@example.org", "Rosa Webb", "874512", "mother"),
    ("ana.ramos@example.org", "Ana Ramos", "903377", "sister"),
    ("jim.porter@example.org", "Jim Porter", "761204", "brother"),
)
TABLETS = (("JP5S-000001", "874512"), ("JP5S-000002", "903377"),  # serial, resident
           ("JP5S-000003", "761204"))
TRACKS = (  # id, title, artist, seconds, price, album
    ("song-river", "River Road", "The Lanterns", 6, 129, None),
    ("song-sunday", "Sunday Light", "Maya Quill", 5, 129, None),
    ("album-north", "North Windows", "Harbor Street", 0, 799, None),
    ("track-north-1", "First Snow", "Harbor Street", 4, 129, "album-north"),
    ("track-north-2", "Paper Boats", "Harbor Street", 4, 129, "album-north"),
)

# Public-domain works (license metadata: the license, and the label says why):
# free to every resident, as the pricing rule holds them. The recordings are
# generated here, so they are the project's own, given to the public domain.
PUBLIC_DOMAIN = (  # id, title, artist, seconds, label
    ("pd-maple-leaf", "Maple Leaf Rag", "Scott Joplin", 5,
     "Public domain: composed 1899; this recording CC0"),
    ("pd-amazing-grace", "Amazing Grace", "Traditional (John Newton, 1779)", 4,
     "Public domain: words 1779; this recording CC0"),
    ("pd-ode-to-joy", "Ode to Joy", "Ludwig van Beethoven", 5,
     "Public domain: composed 1824; this recording CC0"),
)

SYSTEM = Scope.system()  # seeding is the system's work, not a staff member's


@dataclass
class Seeded:
    residents: dict[str, int] = field(default_factory=dict)
    contacts: dict[str, int] = field(default_factory=dict)
    staff: dict[str, int] = field(default_factory=dict)
    already: bool = False


def tone_wav(seconds: int, frequency: float, rate: int = 8000) -> bytes:
    """A short mono WAV tone: a real, playable audio file for the demo catalog."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * frequency * i / rate)))
            for i in range(seconds * rate))
        w.writeframes(frames)
    return out.getvalue()


def seed_demo(c: Central, *, kiosk_fingerprints: dict[str, str] | None = None,
              tablet_certificates: dict[str, str] | None = None) -> Seeded:
    """Fill an empty database with the demo facility. Safe to run twice: a
    seeded database is left as it is (``already`` is True).

    ``tablet_certificates`` (serial -> PEM) registers the demo tablets with the
    certificates their provisioning issued, so that their signed receipts
    and drafts verify; a tablet without one is registered bare."""
    seeded = Seeded()
    with c.db.read() as conn:
        if conn.execute(select(agencies.c.id).where(agencies.c.id == "WA")).first():
            seeded.already = True
            return seeded
    prints = kiosk_fingerprints or {}
    accounts.create_agency(c, "WA", "Washington State Department of Corrections",
                           policy=WASHINGTON)
    accounts.create_facility(c, "CC", "WA", "Cedar Creek Corrections Center",
                             "alerts@cedarcreek.example")
    accounts.create_unit(c, "CC-A", "CC", "A unit")
    accounts.create_unit(c, "CC-B", "CC", "B unit")
    for role in accounts.STAFF_ROLES:
        seeded.staff[role] = accounts.create_staff(c, f"demo-{role}", f"Demo {role.title()}",
                                                   role, DEMO_STAFF_PASSWORD,
                                                   facility_id=None if role == "prea" else "CC",
                                                   agency_id="WA", scope=SYSTEM)
    # The agency's own administrator: its prices, its keyword lists, every facility.
    seeded.staff["agency-administrator"] = accounts.create_staff(
        c, "demo-agency", "Demo Agency Administrator", "administrator", DEMO_STAFF_PASSWORD,
        agency_id="WA", scope=SYSTEM)
    with c.db.read() as conn:
        agency_admin = scope_of(conn, seeded.staff["agency-administrator"])
    admin = seeded.staff["administrator"]
    accounts.register_kiosk(c, "K-CC-A1", "CC-A-DAYROOM", "CC-A", prints.get("K-CC-A1"),
                            scope=SYSTEM)
    accounts.register_kiosk(c, "K-CC-B1", "CC-B-DAYROOM", "CC-B", prints.get("K-CC-B1"),
                            scope=SYSTEM)
    for agency_id, name, unit, language, pin in RESIDENTS:
        new = accounts.create_resident(c, agency_id=agency_id, agency="WA", name=name,
                                       facility_id="CC", unit_id=unit, language=language,
                                       scope=SYSTEM, pin=pin)
        seeded.residents[agency_id] = new.id
        _open_trust_account(c, agency_id, 5000)
        money.transfer_to_prepaid(c, new.id, amount_cents=2000, key=f"demo-transfer-{agency_id}")
        money.buy_stamps_for_resident(c, new.id, offer_id="bundle-20",
                                      key=f"demo-stamps-{agency_id}")
    for serial, agency_id in TABLETS:
        accounts.register_tablet(c, serial, (tablet_certificates or {}).get(serial),
                                 scope=SYSTEM, facility_id="CC")
        accounts.assign_tablet(c, serial, seeded.residents[agency_id], scope=SYSTEM)
    for email, name, agency_id, relationship in FAMILIES:
        cid = accounts.register_contact(c, email, name, DEMO_FAMILY_PASSWORD)
        seeded.contacts[email] = cid
        approval = accounts.request_approval(c, cid, agency_id, relationship)
        accounts.decide_approval(c, approval, approve=True, scope=SYSTEM)
        money.buy_stamps_for_contact(c, cid, resident_agency_id=agency_id, offer_id="bundle-35",
                                     card_token="tok_sandbox_demo",  # noqa: S106 - sandbox
                                     key=f"demo-{email}")
    screening_lists.save_list(c, scope="agency", scope_id="WA", language="en",
                              terms=["drop spot", "burner phone", "meet at the fence"],
                              reach=agency_admin)
    screening_lists.save_list(c, scope="agency", scope_id="WA", language="es",
                              terms=["punto de entrega", "teléfono desechable"],
                              reach=agency_admin)
    _catalog(c, admin)
    rosa = seeded.contacts["rosa.webb@example.org"]
    ana = seeded.contacts["ana.ramos@example.org"]
    messaging.send_from_contact(c, rosa, uid="demo-msg-0001", resident_agency_id="874512",
                                body="Hi Marcus, the garden is finally blooming. "
                                "Your nephew says hi! Love, Mom")
    messaging.send_from_contact(c, ana, uid="demo-msg-0002", resident_agency_id="903377",
                                body="Hola Lucía, te extrañamos mucho. Mamá manda besos.")
    messaging.send_from_contact(c, rosa, uid="demo-msg-0003", resident_agency_id="874512",
                                body="Your cousin has a burner phone for you, ask about the "
                                "drop spot")
    log.info("seeded the demo facility")
    return seeded


def _open_trust_account(c: Central, agency_id: str, cents: int) -> None:
    """The demo's residents need trust accounts; an in-process adapter can make
    them, an agency's real system must already have them."""
    try:
        c.trust.balance(agency_id)
    except NotFound:
        setter = getattr(c.trust, "set_balance", None)
        if setter is None:
            raise
        setter(agency_id, cents)


def _catalog(c: Central, admin: int) -> None:
    for n, (item_id, title, artist, seconds, price, album) in enumerate(TRACKS):
        sha = None
        if seconds:
            data = tone_wav(seconds, 220.0 * (1 + n / 4))
            stored = c.blobs.put([data], max_size=len(data))
            messaging.record_upload(c, stored.sha256, stored.size, "audio/wav",
                                    uploader=f"staff:{admin}", purpose="media")
            sha = stored.sha256
        kind = "album" if not seconds else "song"
        media.add_item(c, media.Item(item_id, kind, title, artist, album, "Demo Records",
                                     price, sha, seconds, False), scope=SYSTEM)
    for n, (item_id, title, artist, seconds, label) in enumerate(PUBLIC_DOMAIN):
        data = tone_wav(seconds, 330.0 * (1 + n / 3))
        stored = c.blobs.put([data], max_size=len(data))
        messaging.record_upload(c, stored.sha256, stored.size, "audio/wav",
                                uploader=f"staff:{admin}", purpose="media")
        media.add_item(c, media.Item(item_id, "song", title, artist, None, label, 0,
                                     stored.sha256, seconds, False,
                                     license=PUBLIC_DOMAIN_LICENSE), scope=SYSTEM)
