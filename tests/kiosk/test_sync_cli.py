"""``sallyport sync status`` and ``sallyport sync round``, as a technician runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device_security.secure_element import KeyFileSecureElement
from kiosk.cache import KioskCache, cache_sealer
from sallyport.cli import main as sallyport
from tests.central.api_server import ApiServer
from tests.device_security.conftest import Facility
from tests.kiosk.test_rounds import _world
from tests.sync.rig import AGENCY_ID, SyncRig, open_cache


def _config(path: Path, cache: Path, **more: str) -> Path:
    lines = ["[sync]", f'cache_dir = "{cache}"'] + [f'{k} = "{v}"' for k, v in more.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_status_shows_queues_cursors_and_tablets(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    rig = SyncRig(tmp_path, Facility(tmp_path / "facility"))
    rig.message("hello", photo_size=3000)
    rig.store.write_draft(resident=AGENCY_ID, contact=3, body="hi")
    assert rig.dock().complete
    config = _config(tmp_path / "kiosk.toml", rig.cache.directory,
                     key=str(rig.kiosk_id.credentials.key))
    assert sallyport(["sync", "--config", str(config), "status"]) == 0
    text = capsys.readouterr().out
    assert "records: 1   files: 1" in text
    assert "outbox to send: 1 waiting, 0 sent, 0 refused" in text
    assert "receipts to send: 2 waiting" in text
    assert "JP5S-000101: resident 7, active, feed through 1, last sync 20" in text
    assert "central server: last reached never" in text
    assert sallyport(["sync", "--config", str(config), "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["queues"]["outbox"]["queued"] == 1


def test_status_shows_the_alert_and_sync_counter_queues(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from device_security.alerts import AlertQueue
    from tests.device_security.test_alerts import ALERT

    element = KeyFileSecureElement(tmp_path / "kiosk-key.pem")
    element.generate()
    cache = KioskCache(tmp_path / "cache", cache_sealer(element))
    cache.counter_accepted("JP5S-000101", 4)
    cache.close()
    AlertQueue(tmp_path / "alerts.db").put(ALERT)
    config = _config(tmp_path / "kiosk.toml", tmp_path / "cache",
                     alert_queue=str(tmp_path / "alerts.db"), key=str(element.path))
    assert sallyport(["sync", "--config", str(config), "status"]) == 0
    text = capsys.readouterr().out
    assert "counters to send: 1 waiting, 0 sent, 0 refused" in text
    assert "alerts to send: 1 waiting, 0 sent, 0 refused, 1 not emailed yet" in text
    assert sallyport(["sync", "--config", str(config), "status", "--json"]) == 0
    queues = json.loads(capsys.readouterr().out)["queues"]
    assert queues["alerts"]["queued"] == queues["counters"]["queued"] == 1


def test_a_cache_opens_only_with_the_kiosks_own_key(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    open_cache(tmp_path / "cache").close()
    config = _config(tmp_path / "kiosk.toml", tmp_path / "cache")
    assert sallyport(["sync", "--config", str(config), "status"]) == 2
    assert "set [sync] key" in capsys.readouterr().err
    other = KeyFileSecureElement(tmp_path / "another-kiosk.pem")
    other.generate()
    config = _config(tmp_path / "kiosk.toml", tmp_path / "cache", key=str(other.path))
    assert sallyport(["sync", "--config", str(config), "status"]) == 2
    assert "sealed under another key" in capsys.readouterr().err


def test_status_without_a_cache_says_so(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path / "kiosk.toml", tmp_path / "none")
    assert sallyport(["sync", "--config", str(config), "status"]) == 1
    assert "no cache at" in capsys.readouterr().out


def test_a_bad_setting_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path / "kiosk.toml", tmp_path, central_url="ftp://x")
    assert sallyport(["sync", "--config", str(config), "status"]) == 2
    assert "central_url" in capsys.readouterr().err


@pytest.mark.parametrize("url", ["http://127.0.0.1:8443", "HTTP://central.example",
                                 "https://", "//central.example"])
def test_the_central_server_is_reached_over_https_only(tmp_path: Path, url: str,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    config = _config(tmp_path / "kiosk.toml", tmp_path, central_url=url)
    assert sallyport(["sync", "--config", str(config), "round"]) == 2
    assert "central_url must be an https:// URL" in capsys.readouterr().err


def test_a_round_drains_the_queues_and_reports_an_outage(
        api: ApiServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rig, _, cid, _ = _world(api, tmp_path)
    ident = api.kiosks["K-A2"]
    config = _config(tmp_path / "kiosk.toml", rig.cache.directory, central_url=api.url,
                     certificate=str(ident.certificate), key=str(ident.key),
                     ca_certificate=str(api.ca_file))
    assert sallyport(["sync", "--config", str(config), "round"]) == 0
    assert "records fetched 2; files fetched 2" in capsys.readouterr().out
    rig.store.write_draft(resident="100001", contact=cid, body="Got it, thanks")
    assert rig.dock().complete
    assert sallyport(["sync", "--config", str(config), "round"]) == 0
    assert "drafts sent 1, refused 0; receipts sent 3" in capsys.readouterr().out
    api.server.stop()
    assert sallyport(["sync", "--config", str(config), "round"]) == 1
    assert "unreachable" in capsys.readouterr().out
    assert sallyport(["sync", "--config", str(config), "status"]) == 0
    assert "last problem 20" in capsys.readouterr().out
