"""Every round brings the facility CA's newest revocation list from the central
server into the kiosk's state, where the pairing gate reads it; an older or
foreign list never replaces the one held, and a server that has none does not
stop the round. A real server over TLS on loopback."""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from device_security import reasons
from device_security.revocation import KeptRevocationList
from kiosk.rounds import CentralSync
from kiosk.ui.plain import refusal_text
from tests.central.api_server import ApiServer
from tests.kiosk.test_counters_and_alerts import Kiosk, api, kiosks  # noqa: F401 - fixtures


@pytest.fixture
def kiosk(kiosks: dict[str, Kiosk], api: ApiServer,  # noqa: F811
          tmp_path: Path) -> Iterator[tuple[Kiosk, CentralSync, KeptRevocationList]]:
    a = kiosks["K-A2"]
    kept = KeptRevocationList(tmp_path / "K-A2-state" / "crl.der", api.ca.certificate)
    yield a, CentralSync(a.client, a.cache, registry=a.registry, alerts=a.alerts,
                         revocations=kept), kept


def test_each_round_brings_the_newest_list(api: ApiServer,  # noqa: F811
                                           kiosk: tuple[Kiosk, CentralSync,
                                                        KeptRevocationList]) -> None:
    _, pump, kept = kiosk
    assert kept.number() is None  # a new kiosk: it would dock nobody yet
    first = pump.run_once()
    assert first.reached_central, first.error
    assert "crl" in first.steps and first.crl_number == kept.number() == 1
    (issued,) = [i for i in api.ca.issued() if i["name"] == "CC-STRAY"]
    api.ca.revoke(issued["certificate_serial"], now=datetime.datetime.now(datetime.UTC))
    done = pump.run_once()
    assert done.crl_number == 2 and not done.crl_problem
    crl = kept.trust().crl
    assert crl is not None
    assert crl.get_revoked_certificate_by_serial_number(issued["certificate_serial"])


def test_an_older_list_from_the_server_is_not_taken(api: ApiServer,  # noqa: F811
                                                    kiosk: tuple[Kiosk, CentralSync,
                                                                 KeptRevocationList]) -> None:
    _, pump, kept = kiosk
    path = Path(api.server.config.crl)
    shutil.copy(path, path.with_name("crl-1.pem"))
    api.ca.publish_crl(now=datetime.datetime.now(datetime.UTC))
    assert pump.run_once().crl_number == 2
    shutil.copy(path.with_name("crl-1.pem"), path)  # a backup restored on the server
    done = pump.run_once()
    assert done.reached_central and "older" in done.crl_problem
    assert done.crl_number == kept.number() == 2
    assert done.steps[-5:] == ["policy", "tablets", "feeds", "blobs", "firmware"]  # went on


def test_a_server_that_publishes_no_list_does_not_stop_the_round(
        api: ApiServer, kiosk: tuple[Kiosk, CentralSync, KeptRevocationList]) -> None:  # noqa: F811
    _, pump, kept = kiosk
    api.server.app.state.revocation_list = None  # as with no [central] crl
    done = pump.run_once()
    assert done.reached_central and "no revocation list" in done.crl_problem
    assert kept.number() is None and "feeds" in done.steps


def test_the_dock_screen_says_why_in_plain_words() -> None:
    text = refusal_text(lambda s, **kw: s, reasons.REVOCATION_LIST_STALE)
    assert "kiosk" in text and "staff" in text.lower()
    assert text != refusal_text(lambda s, **kw: s, reasons.HANDSHAKE_FAILED)
