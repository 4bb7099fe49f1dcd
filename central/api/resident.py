"""Residents at a kiosk: the kiosk logs them in and acts for them, with both
the kiosk's certificate and the resident's session token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from central.api.auth import CentralDep, KioskDep, ResidentDep, TokenDep
from central.api.blob_io import read_upload
from central.api.models import (
    BlobOut,
    ContactOut,
    EntitlementOut,
    HomeOut,
    ItemOut,
    OfferOut,
    PinChange,
    PurchaseIn,
    QuoteOut,
    ResidentLogin,
    ResidentMessage,
    ResidentStampPurchase,
    SentOut,
    SessionOut,
    StampPurchaseOut,
    TabletOut,
    TicketIn,
    TicketOut,
    TrackPriceOut,
    TransferIn,
    TransferOut,
)
from central.errors import CentralError
from central.schema import approvals, contacts, tablets
from central.services import accounts, feeds, media, messaging, money, prices, tickets
from central.services.messaging import Attachment

router = APIRouter(prefix="/v1/resident", tags=["resident"])


@router.post("/sessions", response_model=SessionOut)
def login(body: ResidentLogin, k: KioskDep, c: CentralDep) -> SessionOut:
    """Log a resident in at this kiosk with their ID and PIN."""
    done = accounts.login_resident(c, body.agency_id, body.pin, kiosk_id=k.kiosk_id)
    return SessionOut(token=done.token, expires_at=done.expires_at,
                      must_change_pin=done.must_change_pin)


@router.delete("/sessions", status_code=204)
def logout(_: ResidentDep, token: TokenDep, c: CentralDep) -> Response:
    accounts.logout(c, token)
    return Response(status_code=204)


@router.post("/pin", status_code=204)
def change_pin(body: PinChange, me: ResidentDep, c: CentralDep) -> Response:
    """Change the PIN (required at first login)."""
    accounts.change_pin(c, me, body.old_pin, body.new_pin)
    return Response(status_code=204)


@router.get("/home", response_model=HomeOut)
def home(me: ResidentDep, c: CentralDep) -> HomeOut:
    """Balances, the feed's head and the resident's tablets, for the home screen.

    The trust balance comes from the agency's system; when it does not answer,
    the rest still shows, with a note."""
    with c.db.read() as conn:
        res = accounts.resident(conn, id=me)
        head = feeds.head(conn, f"resident:{me}")
        pads = conn.execute(select(tablets).where(tablets.c.resident_id == me)
                            .order_by(tablets.c.serial)).all()
    held = money.balances(c, f"resident:{me}")
    trust_cents: int | None = None
    trust_note: str | None = None
    try:
        trust_cents = c.trust.balance(str(res.agency_id)).balance_cents
    except CentralError as e:
        trust_note = f"The trust balance is unavailable right now ({e.message})."
    return HomeOut(resident_id=me, agency_id=str(res.agency_id), name=str(res.name),
                   language=str(res.language), stamps=held.stamps,
                   prepaid_cents=held.prepaid_cents or 0, trust_cents=trust_cents,
                   trust_note=trust_note, feed_head=head,
                   tablets=[TabletOut(serial=t.serial, status=t.status,
                                      last_dock_at=t.last_dock_at) for t in pads])


@router.get("/contacts", response_model=list[ContactOut])
def my_contacts(me: ResidentDep, c: CentralDep) -> list[ContactOut]:
    with c.db.read() as conn:
        rows = conn.execute(select(contacts.c.id, contacts.c.name, approvals.c.relationship)
                            .join(approvals, approvals.c.contact_id == contacts.c.id)
                            .where(approvals.c.resident_id == me,
                                   approvals.c.status == "approved")
                            .order_by(contacts.c.name)).all()
    return [ContactOut(id=r.id, name=r.name, relationship=r.relationship) for r in rows]


@router.post("/blobs", status_code=201, response_model=BlobOut,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                 "video/mp4": {"schema": {"type": "string", "format": "binary"}}}}})
async def upload(request: Request, me: ResidentDep, c: CentralDep) -> BlobOut:
    """A photo or a videogram recorded at the kiosk, to attach to a message."""
    return await read_upload(request, c, allowed=("image/jpeg", "video/mp4"),
                             uploader=f"resident:{me}", purpose="message")


@router.post("/messages", status_code=201, response_model=SentOut)
def send(body: ResidentMessage, me: ResidentDep, c: CentralDep) -> SentOut:
    """Send a message; the same uid again never sends or charges twice."""
    done = messaging.send_from_resident(
        c, me, uid=body.uid, contact_id=body.contact_id, body=body.body,
        attached=[Attachment(a.kind, a.sha256, a.captions) for a in body.attachments])
    return SentOut(**done.__dict__)


@router.get("/offers", response_model=list[OfferOut])
def offers(me: ResidentDep, c: CentralDep) -> list[OfferOut]:
    with c.db.read() as conn:
        policy = accounts.policy_of(conn, str(accounts.resident(conn, id=me).agency))
    return [OfferOut(id=o.id, stamps=o.stamps, price_cents=o.price_cents,
                     valid_days=o.valid_days) for o in policy.offers]


@router.post("/stamps", response_model=StampPurchaseOut)
def buy_stamps(body: ResidentStampPurchase, me: ResidentDep, c: CentralDep) -> StampPurchaseOut:
    done = money.buy_stamps_for_resident(c, me, offer_id=body.offer_id,
                                         key=body.idempotency_key)
    return StampPurchaseOut(**done.__dict__)


@router.post("/transfers", response_model=TransferOut)
def transfer(body: TransferIn, me: ResidentDep, c: CentralDep) -> TransferOut:
    """Move money from the trust account to prepaid, within the agency's limits."""
    done = money.transfer_to_prepaid(c, me, amount_cents=body.amount_cents,
                                     key=body.idempotency_key)
    return TransferOut(**done.__dict__)


@router.get("/catalog", response_model=list[ItemOut])
def catalog(me: ResidentDep, c: CentralDep,
            q: Annotated[str, Query(max_length=100)] = "",
            kind: Annotated[str | None, Query(pattern=r"^(song|album|music_video)$")] = None,
            limit: Annotated[int, Query(ge=1, le=200)] = 50,
            offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0) -> list[ItemOut]:
    """The catalog, each item at what this resident would pay for it now."""
    items = media.search(c, q, kind, limit, offset)
    quotes = media.quotes(c, me, items)
    with c.db.read() as conn:
        agency = str(accounts.resident(conn, id=me).agency)
    coming = {p.target: p for p in prices.upcoming(c, agency)}
    out = []
    for i in items:
        quote = quotes[i.id]
        price = quote.price_cents if quote.tracks else i.price_cents  # an empty album
        out.append(ItemOut(**{**i.__dict__, "price_cents": price,
                              "list_price_cents": i.price_cents, "tracks": len(quote.tracks),
                              "owned_tracks": len(quote.tracks) - len(quote.to_buy)},
                           **_next_price(coming.get(f"catalog:{i.id}"))))
    return out


@router.get("/catalog/{item_id}/quote", response_model=QuoteOut)
def quote(item_id: Annotated[str, Path(min_length=1, max_length=32)], me: ResidentDep,
          c: CentralDep) -> QuoteOut:
    """What buying an item costs this resident now, file by file: an album's
    tracks they own already are not charged again."""
    done = media.quote(c, me, item_id)
    return QuoteOut(item_id=done.item_id, list_price_cents=done.list_price_cents,
                    price_cents=done.price_cents,
                    tracks=[TrackPriceOut(**t.__dict__) for t in done.tracks])


@router.post("/purchases", status_code=201, response_model=list[EntitlementOut])
def purchase(body: PurchaseIn, me: ResidentDep, c: CentralDep) -> list[EntitlementOut]:
    """Buy media with prepaid money: one entitlement per file not owned already,
    with its delivery state. With ``expected_price_cents``, a purchase that
    would now cost anything else is refused (409 ``price_changed``)."""
    return [_ent(e) for e in media.purchase(c, me, body.item_id, key=body.idempotency_key,
                                            expected_price_cents=body.expected_price_cents)]


@router.get("/entitlements", response_model=list[EntitlementOut])
def entitlements(me: ResidentDep, c: CentralDep) -> list[EntitlementOut]:
    return [_ent(e) for e in media.entitlements_of(c, me)]


def _next_price(change: prices.PriceChange | None) -> dict[str, Any]:
    if change is None:
        return {}
    return {"next_price_cents": change.new_value, "next_price_from": change.effective_at}


def _ent(e: media.Entitlement) -> EntitlementOut:
    return EntitlementOut(id=e.id, item_id=e.item_id, title=e.title, kind=e.kind,
                          sha256=e.sha256, price_cents=e.price_cents, state=e.state,
                          created_at=e.created_at, updated_at=e.updated_at)


@router.post("/tickets", status_code=201, response_model=TicketOut)
def file_ticket(body: TicketIn, me: ResidentDep, k: KioskDep, c: CentralDep) -> TicketOut:
    ticket_id = tickets.file(c, me, uid=body.uid, category=body.category,
                             description=body.description, diagnostics=body.diagnostics,
                             kiosk_id=k.kiosk_id)
    return TicketOut(**tickets.view(c, ticket_id, resident_id=me).__dict__)


@router.get("/tickets", response_model=list[TicketOut])
def my_tickets(me: ResidentDep, c: CentralDep) -> list[TicketOut]:
    return [TicketOut(**t.__dict__) for t in tickets.list_tickets(c, resident_id=me)]


@router.get("/tickets/{ticket_id}", response_model=TicketOut)
def my_ticket(ticket_id: Annotated[int, Path(ge=1, le=2**53)], me: ResidentDep,
              c: CentralDep) -> TicketOut:
    return TicketOut(**tickets.view(c, ticket_id, resident_id=me).__dict__)
