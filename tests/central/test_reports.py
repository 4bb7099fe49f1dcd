"""The monthly report: per facility and in total, its money is the ledger's,
its counts are what was sold, a facility administrator sees only their own
facility, and the CSV says the same as the page, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from central import ledger
from central.errors import Forbidden, InsufficientFunds, InvalidInput
from central.schema import ledger_accounts, tablet_issues, tablets
from central.services import accounts, media, messaging, money, reports
from central.services.reports import FAMILIES, commission, month_bounds
from tests.central.api_server import ApiServer
from tests.central.facility import STAFF_PASSWORD, SYSTEM, WASHINGTON, Facility
from tests.central.test_purchases import _album, _funded, _song, _tablet

POLICY = dataclasses.replace(WASHINGTON, tablet_price_cents=4999, commission_tablets_bps=1000,
                             commission_media_bps=2000, commission_stamps_bps=1500,
                             timezone="America/Los_Angeles")


def _this_month(f: Facility) -> str:
    return datetime.datetime.fromtimestamp(f.clock(), ZoneInfo(POLICY.timezone)).strftime("%Y-%m")


def _balance(f: Facility, name: str) -> int:
    with f.central.db.read() as conn:
        return int(conn.execute(select(ledger_accounts.c.balance).where(
            ledger_accounts.c.id == ledger.agency_account("WA", name).id)).scalar_one())


def _a_month_of_business(f: Facility, tmp_path: Path) -> dict[str, int]:
    """Two facilities' residents buy songs, an album, stamps and a tablet; a
    family buys stamps by card; messages go both ways; a purchase never
    delivered is refunded. Returns the residents' ids by name."""
    accounts.set_policy(f.central, "WA", POLICY, scope=SYSTEM)
    accounts.create_facility(f.central, "F2", "WA", "Larch", "staff@larch.example")
    accounts.create_unit(f.central, "U-C", "F2", "C unit")
    f.staff["f1-admin"] = accounts.create_staff(
        f.central, "f1-admin", "Facility Admin", "administrator", STAFF_PASSWORD,
        scope=SYSTEM, facility_id="F1", agency_id="WA")
    ann = _funded(f, "100001", cents=20_000)
    bo = accounts.create_resident(f.central, agency_id="200001", agency="WA", name="Bo Example",
                                  facility_id="F2", unit_id="U-C", scope=SYSTEM).id
    f.central.trust.set_balance("200001", 100_000)  # type: ignore[attr-defined]
    money.transfer_to_prepaid(f.central, bo, amount_cents=5_000, key="fund-200001")
    _song(f, "song-1", price=129)
    _song(f, "song-2", price=199)
    _album(f, "album-1", tracks=3, price=1000)
    # Bo's first song never reaches a tablet: refunded after the window
    media.purchase(f.central, bo, "song-2", key="bo-song-2")
    f.clock.advance((POLICY.refund_window_days + 1) * 86_400)
    assert media.refund_undelivered(f.central)
    f.clock.advance(-(POLICY.refund_window_days + 1) * 86_400)
    media.purchase(f.central, ann, "song-1", key="ann-song-1")
    media.purchase(f.central, ann, "album-1", key="ann-album-1")
    media.purchase(f.central, bo, "song-1", key="bo-song-1")
    money.buy_stamps_for_resident(f.central, ann, offer_id="bundle-20", key="ann-stamps-1")
    money.buy_stamps_for_resident(f.central, bo, offer_id="bundle-35", key="bo-stamps-1")
    _tablet(f, tmp_path, ann)  # 49.99 from Ann's prepaid money
    sister = f.family("sister@example.org", "Sister", approved_for="100001")
    money.buy_stamps_for_contact(f.central, sister, resident_agency_id="100001",
                                 offer_id="bundle-60", card_token="tok_sandbox_visa",
                                 key="sister-stamps-1")
    messaging.send_from_contact(f.central, sister, uid=f.uid(), resident_agency_id="100001",
                                body="Happy birthday")
    messaging.send_from_resident(f.central, ann, uid=f.uid(), contact_id=sister,
                                 body="Thank you")
    return {"ann": ann, "bo": bo}


def test_the_months_totals_are_the_ledgers(facility: Facility, tmp_path: Path) -> None:
    f = facility
    _a_month_of_business(f, tmp_path)
    report = reports.monthly_report(f.central, _this_month(f), scope=f.scope("administrator"))
    lines = {line.place: line for line in report.lines}
    assert sorted(lines) == ["F1", "F2", FAMILIES]
    f1, f2, families, total = lines["F1"], lines["F2"], lines[FAMILIES], report.total
    assert (f1.tablets_issued, f1.songs, f1.albums, f1.videos) == (1, 1, 1, 0)
    assert (f2.tablets_issued, f2.songs, f2.albums) == (0, 2, 0)
    assert (f1.tablet_sales_cents, f1.media_sales_cents, f1.media_refunds_cents) == (
        4999, 129 + 1000, 0)
    assert (f2.media_sales_cents, f2.media_refunds_cents, f2.media_net_cents) == (
        129 + 199, 199, 129)
    assert (f1.stamps_sold, f1.stamp_sales_cents, f2.stamps_sold, f2.stamp_sales_cents) == (
        20, 500, 35, 750)
    assert (families.stamps_sold, families.stamp_sales_cents) == (60, 1000)
    assert (f1.messages, f2.messages, families.messages) == (2, 0, 0)
    # the totals are the agency's revenue accounts: everything happened this month
    assert total.tablet_sales_cents == _balance(f, "tablet-sales") == 4999
    assert total.media_net_cents == _balance(f, "media-sales") == 1129 + 129
    assert total.stamp_sales_cents == _balance(f, "stamp-sales") == 2250
    assert total.stamps_sold == -_balance(f, "stamp-issue") == 115
    # commissions at the agency's rates, rounded per facility
    assert f1.commission_media_cents == commission(1129, 2000) == 226
    assert f1.commission_tablets_cents == 500 and f1.commission_stamps_cents == 75
    assert families.commission_stamps_cents == 150
    assert total.commission_cents == sum(line.commission_cents for line in report.lines)
    assert total.revenue_cents == sum(line.revenue_cents for line in report.lines)


def test_the_csv_says_what_the_report_says(facility: Facility, tmp_path: Path) -> None:
    f = facility
    _a_month_of_business(f, tmp_path)
    report = reports.monthly_report(f.central, _this_month(f), scope=f.scope("administrator"))
    rows = list(csv.reader(io.StringIO(reports.to_csv(report))))
    assert rows[0][0] == f"Monthly report {_this_month(f)}"
    header, body = rows[1], {r[0]: dict(zip(rows[1], r, strict=True)) for r in rows[2:]}
    assert header[0] == "Facility" and sorted(body) == ["F1", "F2", FAMILIES, "total"]
    assert body["total"]["Tablet sales"] == "49.99"
    assert body["total"]["Media net"] == "12.58"
    assert body["F2"]["Media refunds"] == "1.99"
    assert body["total"]["Stamp sales"] == "22.50"
    assert body["total"]["Revenue"] == f"{report.total.revenue_cents / 100:.2f}"
    assert body["F1"]["Albums sold"] == "1"


def test_a_facility_administrator_sees_their_facility_alone(facility: Facility,
                                                            tmp_path: Path) -> None:
    f = facility
    _a_month_of_business(f, tmp_path)
    report = reports.monthly_report(f.central, _this_month(f), scope=f.scope("f1-admin"))
    assert [line.place for line in report.lines] == ["F1"]
    assert report.total.stamp_sales_cents == 500  # not F2's, not the families'
    assert report.total.media_net_cents == 1129
    with pytest.raises(Forbidden):
        reports.monthly_report(f.central, _this_month(f), scope=f.scope("reviewer"))


def test_another_month_is_empty_and_a_bad_month_is_refused(facility: Facility,
                                                           tmp_path: Path) -> None:
    f = facility
    _a_month_of_business(f, tmp_path)
    report = reports.monthly_report(f.central, "2001-01", scope=f.scope("administrator"))
    assert report.total == reports.ReportLine("total", "Total")
    for bad in ("2026-13", "2026-1", "26-01", "2026-00", "x" * 40):
        with pytest.raises(InvalidInput):
            reports.monthly_report(f.central, bad, scope=f.scope("administrator"))


def test_months_begin_at_midnight_where_the_agency_is() -> None:
    start, end = month_bounds("2026-03", "America/Los_Angeles")
    assert datetime.datetime.fromtimestamp(start, datetime.UTC).isoformat() == \
        "2026-03-01T08:00:00+00:00"
    # daylight saving began on March 8: the month ends at 07:00 UTC
    assert datetime.datetime.fromtimestamp(end, datetime.UTC).isoformat() == \
        "2026-04-01T07:00:00+00:00"
    start, end = month_bounds("2026-12", "UTC")
    assert end - start == 31 * 86_400


def test_commissions_round_to_the_nearest_cent() -> None:
    assert [commission(c, 1500) for c in (0, 1, 3, 4, 100, 1129, -1129)] == \
        [0, 0, 0, 1, 15, 169, -169]


def test_a_tablet_the_resident_cannot_pay_for_is_not_given(facility: Facility,
                                                            tmp_path: Path) -> None:
    f = facility
    accounts.set_policy(f.central, "WA", POLICY, scope=SYSTEM)
    poor = _funded(f, "100002", cents=1_000)
    with pytest.raises(InsufficientFunds):
        _tablet(f, tmp_path, poor)
    with f.central.db.read() as conn:  # registered, but neither given nor charged
        assert conn.execute(select(tablets.c.resident_id)).scalar_one() is None
        assert conn.execute(select(tablet_issues)).all() == []
    assert money.balances(f.central, f"resident:{poor}").prepaid_cents == 1_000


def test_the_report_over_http(api: ApiServer, tmp_path: Path) -> None:
    f = api.facility
    _a_month_of_business(f, tmp_path)
    month = _this_month(f)
    admin = api.staff("administrator")
    got = admin.get("/v1/staff/reports/monthly", params={"month": month})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["total"]["stamp_sales_cents"] == 2250
    assert [line["place"] for line in body["lines"]] == ["F1", "F2", FAMILIES]
    sheet = admin.get("/v1/staff/reports/monthly.csv", params={"month": month})
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("text/csv")
    assert f'report-WA-{month}.csv' in sheet.headers["content-disposition"]
    assert "22.50" in sheet.text
    assert api.staff("reviewer").get("/v1/staff/reports/monthly",
                                     params={"month": month}).status_code == 403
    assert admin.get("/v1/staff/reports/monthly",
                     params={"month": "2026-13"}).status_code == 422
