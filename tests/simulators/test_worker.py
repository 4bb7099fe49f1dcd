"""Device I/O on one worker thread per device."""

import threading
import time

import pytest

from hw.errors import DeviceGone
from hw.hotplug import UdevHotplug
from hw.usb_descriptors import DescriptorReader
from hw.worker import DeviceIO, DeviceWorker
from simulators.usb_backend import SimUsbBackend
from simulators.world import World
from tests.conftest import TABLET_ID

pytestmark = pytest.mark.udev


def docked(world: World) -> tuple[str, DeviceWorker]:
    tablet = world.add_tablet()
    world.plug(tablet.spec.name)
    (device,) = UdevHotplug([TABLET_ID]).scan()
    worker = DeviceWorker(device, reader=DescriptorReader(SimUsbBackend()))
    worker.start()
    return tablet.spec.name, worker


def test_jobs_run_on_the_devices_own_thread(world: World) -> None:
    name, worker = docked(world)
    try:
        thread = worker.submit(lambda io: threading.current_thread().name).result(5)
        assert thread == f"dev-{world.tablet(name).spec.serial}"
        serial = worker.submit(lambda io: io.descriptors().serial).result(5)
        assert serial == world.tablet(name).spec.serial
    finally:
        worker.stop()


def test_link_echo_through_the_worker(world: World) -> None:
    name, worker = docked(world)
    from hw.serial_link import open_link

    tablet_end = open_link(f"serial://{world.link(name).gadget_tty}")
    try:
        worker.submit(lambda io: io.link().write(b"ping", timeout=1)).result(5)
        assert tablet_end.read_exactly(4, timeout=2) == b"ping"
        tablet_end.write(b"pong", timeout=1)
        assert worker.submit(lambda io: io.link().read_exactly(4, timeout=2)).result(5) == b"pong"
    finally:
        tablet_end.close()
        worker.stop()


def test_unplug_ends_a_blocked_job_and_fails_queued_ones(world: World) -> None:
    name, worker = docked(world)

    def wait_forever(io: DeviceIO) -> bytes:
        return io.link().read(10, timeout=60)

    blocked = worker.submit(wait_forever)
    queued = worker.submit(lambda io: io.link().write(b"x", timeout=1))
    time.sleep(0.3)
    world.unplug(name)
    started = time.monotonic()
    worker.stop()
    with pytest.raises(DeviceGone):
        blocked.result(10)
    with pytest.raises(DeviceGone):
        queued.result(10)
    assert time.monotonic() - started < 10
    with pytest.raises(DeviceGone):
        worker.submit(lambda io: None).result(1)


def test_stop_aborts_the_running_job_and_drops_the_queue(world: World) -> None:
    _, worker = docked(world)
    blocked = worker.submit(lambda io: io.link().read(10, timeout=60))
    queued = worker.submit(lambda io: "never runs")
    time.sleep(0.3)
    worker.stop()
    with pytest.raises(DeviceGone, match="left"):
        blocked.result(10)
    with pytest.raises(DeviceGone, match="before the job ran"):
        queued.result(10)
