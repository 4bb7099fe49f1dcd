"""Moving an image in chunks (resumed after an unplug, refused past its signed
length or with the wrong hash) and installing it to the inactive slot, with
the boot counter, the health check and the fallback."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from firmware_images.boot import start
from firmware_images.errors import (
    HashError,
    LengthError,
    RepositoryError,
    SlotError,
    TransferError,
)
from firmware_images.image import read_manifest
from firmware_images.slots import (
    TRIES,
    BootChoice,
    SlotImage,
    SlotStore,
    begin_install,
    installed,
    mark_good,
    on_boot,
    provisioned,
)
from firmware_images.transfer import ImageSink, ImageSource
from firmware_images.trust import Installed
from tests.firmware.world import Publisher, offer, provision

CHUNK = 64 * 1024


def _passes(store: SlotStore) -> object:
    return lambda choice: read_manifest(store.image_path(choice.slot)).selftest == "pass"


def test_an_image_resumes_from_the_last_durable_chunk(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path)
    image = publisher.publish(2, size=1024 * 1024)
    source = ImageSource(publisher.repo)
    device = provision(tmp_path / "tablet", publisher)
    made = source.offer("JP5S-000001", device.installed(), 1)
    assert made is not None and made.entry.version == 2
    entry = device.consider(made.entry.name, made.metadata, _token(device, publisher))
    offset = device.begin(entry)
    assert offset == 0
    for _ in range(5):  # then the cable is pulled
        offset = device.write(offset, source.chunk(entry.sha256, offset, CHUNK))
    device.sink.close()
    # a torn write after the last durable chunk, as a power cut could leave
    with device.sink.part_path.open("ab") as f:
        f.write(b"garbage")
    again = type(device)(device.path, model="JP5S", kind="tablet", time_keys=device.time_keys)
    again.consider(made.entry.name, made.metadata, _token(again, publisher))
    resumed = again.begin(entry)
    assert resumed == 5 * CHUNK
    while resumed < entry.length:
        resumed = again.write(resumed, source.chunk(entry.sha256, resumed, CHUNK))
    state = again.finish()
    assert state.trying == "b" and state.tries_left == TRIES
    assert again.slots.image_path("b").read_bytes() == image.path.read_bytes()
    assert again.state().good == "a"  # not before it boots and passes its health check


def test_more_bytes_than_the_signed_length_are_refused(tmp_path: Path) -> None:
    """The endless-data attack: a kiosk that keeps sending."""
    publisher = Publisher(tmp_path)
    image = publisher.publish(2, size=100_000)
    device = provision(tmp_path / "tablet", publisher)
    entry = offer(device, publisher, "JP5S/tablet-2.img")
    device.begin(entry)  # type: ignore[arg-type]
    data = image.path.read_bytes()
    offset = device.write(0, data[:-10])
    with pytest.raises(LengthError):
        device.write(offset, data[-10:] + b"more and more")
    assert device.sink.part_path.stat().st_size == len(data) - 10
    with pytest.raises(LengthError):  # nor can the image end short
        device.finish()
    with pytest.raises(TransferError):  # nor a chunk land elsewhere than at the end
        device.write(0, data[:10])
    device.write(offset, data[-10:])
    device.finish()


def test_wrong_bytes_are_never_installed(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path)
    image = publisher.publish(2, size=100_000)
    device = provision(tmp_path / "tablet", publisher)
    entry = offer(device, publisher, "JP5S/tablet-2.img")
    device.begin(entry)  # type: ignore[arg-type]
    data = bytearray(image.path.read_bytes())
    data[5000] ^= 1
    device.write(0, bytes(data))
    with pytest.raises(HashError):
        device.finish()
    assert device.state().trying is None and not device.slots.image_path("b").exists()
    assert not device.sink.part_path.exists()  # thrown away: the next dock starts over
    with pytest.raises(TransferError):  # nothing to receive unless considered first
        device.begin(dataclasses.replace(entry, name="JP5S/tablet-9.img"))  # type: ignore


def test_an_image_that_fails_its_health_check_rolls_back_by_itself(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path)
    good = publisher.publish(2)
    bad = publisher.publish(3, selftest="fail")
    device = provision(tmp_path / "tablet", publisher)
    store = device.slots
    for image in (good, bad):
        entry = offer(device, publisher, image.manifest.target_name)
        device.begin(entry)  # type: ignore[arg-type]
        device.write(0, image.path.read_bytes())
        device.finish()
        outcome = start(store, _passes(store))  # type: ignore[arg-type]
    assert outcome.rolled_back and outcome.version == 2 and outcome.boots == TRIES + 1
    state = store.load()
    assert state.event == "rolled_back" and state.good == "b" and state.trying is None
    assert device.report().version == 2 and device.report().slot == "b"


def test_the_boot_counter_is_spent_before_each_boot() -> None:
    """The pure steps, over values."""
    one, two = SlotImage("JP5S/tablet-1.img", 1, "a" * 64), SlotImage("x", 2, "b" * 64)
    state = installed(begin_install(provisioned(one)), two, tries=2)
    state, choice = on_boot(state)
    assert choice == BootChoice("b", two, True) and state.tries_left == 1
    state, choice = on_boot(state)
    assert choice.on_trial and state.tries_left == 0
    state, choice = on_boot(state)
    assert choice == BootChoice("a", one, False) and state.event == "rolled_back"
    with pytest.raises(SlotError):
        mark_good(state, "b")
    with pytest.raises(SlotError):  # never an older or equal version into a slot
        installed(begin_install(provisioned(two)), one)
    with pytest.raises(SlotError):
        installed(provisioned(one), two)  # not without marking the slot empty first


def test_the_source_serves_bounded_chunks(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path)
    image = publisher.publish(2, size=10_000)
    source = ImageSource(publisher.repo, eligible=lambda serial, entry: serial == "IN")
    assert source.offer("OUT", Installed("JP5S", "tablet", 1), 1) is None
    assert source.offer("IN", Installed("JP5S", "tablet", 2), 1) is None
    sha = image.sha256
    assert source.chunk(sha, image.length - 5, 100) == image.path.read_bytes()[-5:]
    assert source.chunk(sha, image.length, 100) == b""
    for offset, size in ((image.length + 1, 10), (-1, 10), (0, 0), (0, 2 * 1024 * 1024)):
        with pytest.raises(TransferError):
            source.chunk(sha, offset, size)
    for bad in ("../../etc/passwd", "0" * 64):
        with pytest.raises(RepositoryError):
            source.chunk(bad, 0, 10)


def test_a_sink_starts_over_for_another_image(tmp_path: Path) -> None:
    publisher = Publisher(tmp_path)
    publisher.publish(2, size=50_000)
    publisher.publish(3, size=50_000)
    entries = {e.version: e for e in publisher.repo.images()}
    sink = ImageSink(tmp_path / "staging")
    sink.begin(entries[2])
    sink.write(0, (publisher.path / "image-2.img").read_bytes()[:CHUNK // 4])
    sink.close()
    for version, resumes_at in ((2, CHUNK // 4), (3, 0), (2, 0)):
        again = ImageSink(tmp_path / "staging")
        assert again.begin(entries[version]) == resumes_at
        again.close()


def _token(device: object, publisher: Publisher) -> bytes:
    import datetime

    from tests.firmware.world import HOUR, token
    last = datetime.datetime.fromtimestamp(device.last_time(), datetime.UTC)  # type: ignore[attr-defined]
    return token(device, max(publisher.now + HOUR,  # type: ignore[arg-type]
                             last + datetime.timedelta(minutes=1)))


def test_a_whole_image_file_is_checked_length_first(tmp_path: Path) -> None:
    from firmware_images.transfer import verify_file

    publisher = Publisher(tmp_path)
    image = publisher.publish(2, size=20_000)
    (entry,) = publisher.repo.images()
    verify_file(image.path, entry)
    longer = tmp_path / "longer.img"
    longer.write_bytes(image.path.read_bytes() + b"\0")
    with pytest.raises(LengthError):
        verify_file(longer, entry)
    flipped = bytearray(image.path.read_bytes())
    flipped[-1] ^= 1
    longer.write_bytes(bytes(flipped))
    with pytest.raises(HashError):
        verify_file(longer, entry)
