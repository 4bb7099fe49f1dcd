"""Throughput of a plain pseudo-terminal, and of the simulated tablet link built on two.

Each figure is the best of a few one-way copies of the same payload, taken in
this one run, so the ratio between them is fair.
"""

from __future__ import annotations

import os
import threading
import time

from hw.serial_link import open_link
from simulators.link import SimLink, open_raw_pty

PAYLOAD = 32 * 1024 * 1024
CHUNK = 64 * 1024
ROUNDS = 3


def copy_mbps(write_fd: int, read_fd: int) -> float:
    """Send PAYLOAD bytes into write_fd and read them all from read_fd."""
    block = os.urandom(CHUNK)

    def writer() -> None:
        sent = 0
        while sent < PAYLOAD:
            sent += os.write(write_fd, block[: min(CHUNK, PAYLOAD - sent)])

    thread = threading.Thread(target=writer)
    started = time.perf_counter()
    thread.start()
    received = 0
    while received < PAYLOAD:
        received += len(os.read(read_fd, CHUNK))
    elapsed = time.perf_counter() - started
    thread.join()
    return PAYLOAD / elapsed / 1e6


def raw_pty() -> float:
    master, slave, _ = open_raw_pty()
    try:
        return max(copy_mbps(master, slave) for _ in range(ROUNDS))
    finally:
        os.close(master)
        os.close(slave)


def sim_link() -> float:
    link = SimLink("bench")
    link.open()
    kiosk = os.open(link.kiosk_tty, os.O_RDWR | os.O_NOCTTY)
    tablet = os.open(link.gadget_tty, os.O_RDWR | os.O_NOCTTY)
    try:
        return max(copy_mbps(kiosk, tablet) for _ in range(ROUNDS))
    finally:
        os.close(kiosk)
        os.close(tablet)
        link.cut()


def sim_serial_link() -> float:
    """The same link as the kiosk's code sees it: hw.serial_link over pyserial."""
    link = SimLink("bench-serial")
    link.open()
    kiosk = open_link(f"serial://{link.kiosk_tty}")
    tablet = open_link(f"serial://{link.gadget_tty}")
    block = os.urandom(CHUNK)
    best = 0.0
    try:
        for _ in range(ROUNDS):
            def writer() -> None:
                for start in range(0, PAYLOAD, CHUNK):
                    kiosk.write(block[: min(CHUNK, PAYLOAD - start)], timeout=30)

            thread = threading.Thread(target=writer)
            started = time.perf_counter()
            thread.start()
            received = 0
            while received < PAYLOAD:
                received += len(tablet.read(CHUNK, timeout=30))
            best = max(best, PAYLOAD / (time.perf_counter() - started) / 1e6)
            thread.join()
    finally:
        kiosk.close()
        tablet.close()
        link.cut()
    return best


def run() -> dict[str, tuple[float, str, str]]:
    raw = raw_pty()
    sim = sim_link()
    serial = sim_serial_link()
    return {
        "link.raw_pty_mbps": (raw, "MB/s", "plain copy through one pseudo-terminal"),
        "link.sim_mbps": (sim, "MB/s", "bytes through the simulated tablet link (two ptys "
                          "and the relay)"),
        "link.sim_vs_raw_ratio": (sim / raw, "ratio", "link.sim_mbps / link.raw_pty_mbps"),
        "link.sim_serial_link_mbps": (serial, "MB/s", "the simulated link through "
                                      "hw.serial_link (pyserial), as the kiosk reads it"),
    }
