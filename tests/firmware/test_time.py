"""Signed time at the dock: a kiosk with a wrong clock cannot make expired
metadata valid, nor freeze a tablet on old metadata, nor a replayed token
move the tablet's time."""

from __future__ import annotations

import datetime
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware_images.errors import (
    ExpiredError,
    NoTrustedTime,
    RollbackError,
    StaleTime,
    TimeTooFarAhead,
    TokenError,
)
from firmware_images.signed_time import (
    MAX_AHEAD,
    accept_time,
    new_nonce,
    sign_time,
    trusted_now,
)
from tests.firmware.world import HOUR, KIOSK, TIME_KEY, Publisher, offer, provision, token

KEYS = {KIOSK: TIME_KEY.public_key()}
T0 = 1_767_225_600  # 2026-01-01


def test_a_token_answering_the_nonce_is_accepted() -> None:
    nonce = new_nonce()
    data = sign_time(TIME_KEY, KIOSK, nonce, T0 + 10)
    assert accept_time(data, nonce=nonce, keys=KEYS, last=T0, latest_signed=T0) == T0 + 10


def test_tokens_that_must_be_refused() -> None:
    nonce = new_nonce()
    good = sign_time(TIME_KEY, KIOSK, nonce, T0 + 10)
    with pytest.raises(TokenError):  # a replay: the token of another dock
        accept_time(good, nonce=new_nonce(), keys=KEYS, last=T0, latest_signed=T0)
    stranger = Ed25519PrivateKey.generate()
    with pytest.raises(TokenError):  # signed by a key the tablet does not trust
        accept_time(sign_time(stranger, "K-EVIL", nonce, T0 + 10), nonce=nonce, keys=KEYS,
                    last=T0, latest_signed=T0)
    with pytest.raises(TokenError):  # a trusted key's name, another key's signature
        accept_time(sign_time(stranger, KIOSK, nonce, T0 + 10), nonce=nonce, keys=KEYS,
                    last=T0, latest_signed=T0)
    fields = cbor2.loads(good)
    fields["time"] += 86400  # the time changed after signing
    with pytest.raises(TokenError):
        accept_time(cbor2.dumps(fields), nonce=nonce, keys=KEYS, last=T0, latest_signed=T0)
    for junk in (b"", b"\xff" * 600, cbor2.dumps([1, 2]), cbor2.dumps({"v": 1})):
        with pytest.raises(TokenError):
            accept_time(junk, nonce=nonce, keys=KEYS, last=T0, latest_signed=T0)
    with pytest.raises(StaleTime):  # a clock behind the tablet's last time
        accept_time(good, nonce=nonce, keys=KEYS, last=T0 + 10, latest_signed=T0)
    ahead = sign_time(TIME_KEY, KIOSK, nonce, T0 + MAX_AHEAD + 1)
    with pytest.raises(TimeTooFarAhead):  # a clock far past what central signed
        accept_time(ahead, nonce=nonce, keys=KEYS, last=T0, latest_signed=T0)


def test_no_fresh_time_means_no_expiry_check_and_no_install() -> None:
    with pytest.raises(NoTrustedTime):
        trusted_now(None, T0)
    # a clock behind central's newest signed time reads as that time
    assert trusted_now(T0 - 86400, T0) == datetime.datetime.fromtimestamp(T0, datetime.UTC)


def test_a_kiosk_clock_behind_cannot_make_expired_metadata_valid(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path)
    publisher.publish(2)
    stale = publisher.bundle()  # its timestamp expires after a day
    device = provision(tmp_path / "tablet", publisher)
    week = datetime.timedelta(days=7)
    # a kiosk with the right clock, a week later, still has the old metadata
    with pytest.raises(ExpiredError):
        device.consider("JP5S/tablet-2.img", stale, token(device, publisher.now + week))
    assert device.last_time() == int((publisher.now + week).timestamp())
    # a kiosk whose clock is a week behind hands the same metadata: refused
    with pytest.raises(StaleTime):
        device.consider("JP5S/tablet-2.img", stale, token(device, publisher.now + HOUR))
    # and without a token the tablet checks and installs nothing
    device.challenge()
    with pytest.raises(NoTrustedTime):
        device.consider("JP5S/tablet-2.img", stale, None)
    assert device.report().version == 1 and device.state().trying is None


def test_a_clock_behind_at_a_first_dock_reads_as_central_signed_time(tmp_path: Path) -> None:
    """A new tablet (no time yet) and a kiosk a month slow: the fresh timestamp's
    signed time is the floor, and a replayed month-old timestamp is expired."""
    publisher = Publisher(tmp_path)
    publisher.publish(2)
    old = publisher.bundle()
    device = provision(tmp_path / "tablet", publisher)
    publisher.now += datetime.timedelta(days=30)
    publisher.repo.refresh(signers=publisher.signers, now=publisher.now)
    slow = publisher.now - datetime.timedelta(days=30) + HOUR
    # the fresh metadata is accepted although the kiosk's clock is slow ...
    device.consider("JP5S/tablet-2.img", publisher.bundle(), token(device, slow))
    # ... and the old metadata stays refused at the next dock (its version is older)
    with pytest.raises(RollbackError):
        device.consider("JP5S/tablet-2.img", old, token(device, slow + HOUR))


def test_a_stopped_kiosk_clock_cannot_freeze_a_tablet_on_old_metadata(tmp_path: Path) -> None:
    """A kiosk whose clock stands still and that serves the same metadata: the
    second dock's token is not later, so nothing is checked against it; a
    clock that moves makes the timestamp expire within a day."""
    publisher = Publisher(tmp_path)
    publisher.publish(2)
    device = provision(tmp_path / "tablet", publisher)
    stuck = publisher.now + HOUR
    offer(device, publisher, "JP5S/tablet-2.img", stuck)
    with pytest.raises(StaleTime):
        device.consider("JP5S/tablet-2.img", publisher.bundle(), token(device, stuck))
    with pytest.raises(ExpiredError) as refused:
        device.consider("JP5S/tablet-2.img", publisher.bundle(),
                        token(device, stuck + datetime.timedelta(days=2)))
    assert refused.value.fields["role"] == "timestamp"


def test_a_clock_far_ahead_cannot_lock_the_tablet_out(tmp_path: Path) -> None:
    """A kiosk a year ahead is refused, and the true time is still accepted later."""
    publisher = Publisher(tmp_path)
    publisher.publish(2)
    device = provision(tmp_path / "tablet", publisher)
    with pytest.raises(TimeTooFarAhead):
        device.consider("JP5S/tablet-2.img", publisher.bundle(),
                        token(device, publisher.now + datetime.timedelta(days=365)))
    assert device.last_time() == 0
    assert offer(device, publisher, "JP5S/tablet-2.img").version == 2  # type: ignore[attr-defined]


def test_the_committed_token_verifies() -> None:
    from tests.vectors.firmware.make_firmware_vectors import HERE, NONCE, WHEN
    data = (HERE / "time-token.cbor").read_bytes()
    start = int(WHEN.timestamp())
    assert accept_time(data, nonce=NONCE, keys=KEYS, last=start,
                       latest_signed=start) == start + 3600
