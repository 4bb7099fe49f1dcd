"""One worker thread per device: all of a device's I/O happens there.

Callers hand a job (a function of :class:`DeviceIO`) to the device's worker
and get a :class:`concurrent.futures.Future` with its value. The link and
the descriptor reader live on the worker thread; no handle crosses threads.
When the device leaves, :meth:`DeviceWorker.stop` aborts whatever the job is
blocked on (it ends with :class:`hw.errors.DeviceGone`) and fails the jobs
still queued.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

from hw.errors import DeviceGone, HwError
from hw.records import DockedDevice, UsbDescriptors
from hw.serial_link import SerialLink, open_link
from hw.usb_descriptors import DescriptorReader

log = logging.getLogger(__name__)

T = TypeVar("T")
LinkOpener = Callable[..., SerialLink]


class DeviceIO:
    """The device's I/O, for jobs running on its worker thread only."""

    def __init__(
        self, device: DockedDevice, link_opener: LinkOpener, reader: DescriptorReader | None
    ) -> None:
        self.device = device
        self._link_opener = link_opener
        self._reader = reader
        self._link: SerialLink | None = None
        self._lock = threading.Lock()

    def link(self) -> SerialLink:
        """The device's serial link, opened on first use.

        Raises DeviceGone if the device has no serial interface, or whatever
        :func:`hw.serial_link.open_link` raises.
        """
        if self._link is None:
            address = self.device.link_address
            if address is None:
                raise DeviceGone("the device has no serial interface", device=self.device.identity)
            link = self._link_opener(address, identity=self.device.identity)
            with self._lock:
                self._link = link
        return self._link

    def descriptors(self) -> UsbDescriptors:
        """Read the device's USB descriptors (see DescriptorReader.read)."""
        device = self.device
        if self._reader is None:
            raise HwError("this worker was given no descriptor reader", device=device.identity)
        return self._reader.read(device.bus, device.address, identity=device.identity)

    def reset_port(self) -> None:
        """Reset the device's USB port; the open link is closed first."""
        self.close_link()
        if self._reader is None:
            raise HwError("this worker was given no descriptor reader",
                          device=self.device.identity)
        self._reader.reset_port(self.device.bus, self.device.address, identity=self.device.identity)

    def close_link(self) -> None:
        with self._lock:
            link, self._link = self._link, None
        if link is not None:
            link.close()

    def abort(self) -> None:
        """From another thread: make a blocked read or write end with DeviceGone."""
        with self._lock:
            if self._link is not None:
                self._link.abort()


class _Job(Generic[T]):
    def __init__(self, fn: Callable[[DeviceIO], T]) -> None:
        self.fn = fn
        self.future: Future[T] = Future()


class DeviceWorker:
    """Runs jobs for one device, in order, on a thread named after it."""

    def __init__(
        self,
        device: DockedDevice,
        *,
        reader: DescriptorReader | None = None,
        link_opener: LinkOpener = open_link,
    ) -> None:
        self.device = device
        self._io = DeviceIO(device, link_opener, reader)
        self._jobs: queue.SimpleQueue[_Job[object] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._pending = 0
        self._pending_lock = threading.Lock()
        self.name = f"dev-{device.serial or device.sys_path.rsplit('/', 1)[-1]}"

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"{self.name} already started")
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        """Whether a job is running or waiting (a dock under way, say)."""
        with self._pending_lock:
            return self._pending > 0

    def submit(self, fn: Callable[[DeviceIO], T]) -> Future[T]:
        """Queue ``fn`` to run on the device's thread; its Future holds the result.

        A job submitted after :meth:`stop` fails with DeviceGone.
        """
        job: _Job[T] = _Job(fn)
        if self._stopping or self._thread is None:
            job.future.set_exception(
                DeviceGone("the device's worker is not running", device=self.device.identity)
            )
        else:
            with self._pending_lock:
                self._pending += 1
            job.future.add_done_callback(self._done)
            self._jobs.put(job)  # type: ignore[arg-type]
        return job.future

    def _done(self, _: Future[T]) -> None:
        with self._pending_lock:
            self._pending -= 1

    def stop(self, timeout: float = 5.0) -> None:
        """Abort the running job, fail queued ones, close the link, end the thread."""
        self._stopping = True
        self._io.abort()
        self._jobs.put(None)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("%s did not stop within %.1f s", self.name, timeout)

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                break
            if self._stopping:
                job.future.set_exception(
                    DeviceGone("the device left before the job ran", device=self.device.identity)
                )
                continue
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                job.future.set_result(job.fn(self._io))
            except HwError as e:
                job.future.set_exception(e)
            except Exception as e:
                log.exception("job on %s failed", self.name)
                job.future.set_exception(e)
        self._io.close_link()
        log.debug("%s stopped", self.name)
