"""The kiosk-tablet sync session over the simulated USB cable: a first dock's
goodput against the raw link and against rsync, a dock with nothing new, and
what an unplug costs.

As in the real system, the kiosk (this process), the tablet (its own
``TabletStore``) and the simulated cable (``SimLink``, two raw ptys and their
relay) each run in their own process, so none of them competes with another
for Python's interpreter lock. Every dock is a new cable: both ends open it
through ``hw.serial_link``, run the mutual TLS handshake, then the session
(``sync.session.run_kiosk`` / ``serve_tablet``) with the real stores on both
sides. Session times are the kiosk's ``SessionSummary.seconds``: from sending
``Hello`` to receiving ``Bye``, the TLS handshake excluded.

First dock: the bench fills a kiosk cache, in the shape of the central
server's feeds, with 2,000 short messages (200 of them with a photo of
150-250 KB, 10 with a videogram of about 6 MB) and 100 purchased songs of about
2 MB: some 300 MB of random bytes, which no layer can compress. The payload is
the blobs' bytes plus the records' bodies as canonical CBOR (what the
``Records`` frames carry). Each round, interleaved, takes three copies over a
new cable with the same processes on each end:

* raw: bytes written through ``hw.serial_link`` on the kiosk's end and read on
  the tablet's, no TLS and no session, as ``bench_channel`` measures it;
* ours: a first dock into an empty tablet store;
* rsync: ``rsync -a -W`` (no compression, whole files) of the same blob files
  and a file holding the same record bodies into an empty directory. Its
  remote shell is a small bridge that sends the remote command down the
  kiosk's pty, then copies rsync's bytes to and from it; at the tablet's end
  ``rsync --server`` reads the gadget pty directly, and what it writes goes
  back up framed, ending with its exit status, as ssh carries a remote
  command's output and status. rsync's time is the client's whole run, start
  to exit. Its result is checked (file count and bytes). rsync does not fsync
  what it writes; the tablet store syncs every chunk before acknowledging it.

Each figure is the best of the rounds. The kiosk's cache is sealed at rest
as a kiosk's is (records' bodies, labels, every blob in 64 KiB segments), so
the kiosk opens what it sends as it sends it; rsync copies the same files
unsealed.

Nothing new: a tablet that already holds a resident's feed (10,000 messages,
1,000 of them with a small photo of 2-8 KB, so that 1,000 files are on the
tablet; the count matters, not the bytes), docked again and again with no new
content; and the same with 100 messages and 10 files.

Unplug: a first dock of one 24 MiB blob, with the cable cut after a random
number of bytes down (``Fault(drop_at=...)``), then a dock without a fault,
which must complete the blob from where the tablet stopped. The bytes sent
twice are the bytes that crossed the cable down in the cut dock less what
the tablet made durable in it (the growth of its partial and complete blobs),
so they include the handshake and the frames' and TLS records' own bytes.
"""

from __future__ import annotations

import datetime
import hashlib
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device_security.at_rest import Sealer
from device_security.channel import Credentials, SecureChannel, make_context
from device_security.pki import Role, issue, make_ca, private_key_pem
from device_security.secure_element import derive_key
from hw.serial_link import open_link
from kiosk.cache import KioskCache
from simulators.link import Fault, SimLink
from sync.session import CHUNK, DockedResident, SessionSummary, run_kiosk, serve_tablet
from sync.stream import FrameStream
from tablet.store import TabletStore

SEED = 20261125
SEALER = Sealer(os.urandom(32))  # the kiosk caches' key in this run
AT_ONCE = 4  # tablets docking at once at one kiosk
SERIALS = tuple(f"JP5S-00000{i + 1}" for i in range(AT_ONCE))
RESIDENTS = tuple(7 + i for i in range(AT_ONCE))
AGENCY_IDS = tuple(str(874512 + i) for i in range(AT_ONCE))
SERIAL, RESIDENT, AGENCY_ID = SERIALS[0], RESIDENTS[0], AGENCY_IDS[0]
KIOSK = "K-B1"

ROUNDS = 3  # first docks, raw copies and rsync runs, interleaved
RAW_BYTES = 64 * 1024 * 1024
RAW_BLOCK = 256 * 1024
NOTHING_NEW_DOCKS = 20
DROPS = 7
RESUME_BLOB = 24 * 1024 * 1024
ANSWER_TIMEOUT = 300.0  # the longest wait for the tablet or the cable to answer


@dataclass(frozen=True)
class Mix:
    """What a resident's feed holds: counts and (min, max) sizes in bytes."""

    messages: int
    photos: int = 0
    photo_size: tuple[int, int] = (150_000, 250_000)
    videograms: int = 0
    videogram_size: tuple[int, int] = (5_500_000, 6_500_000)
    songs: int = 0
    song_size: tuple[int, int] = (1_800_000, 2_200_000)


FIRST = Mix(messages=2_000, photos=200, videograms=10, songs=100)
NOTHING_NEW = Mix(messages=10_000, photos=1_000, photo_size=(2_000, 8_000))
NOTHING_NEW_SMALL = Mix(messages=100, photos=10, photo_size=(2_000, 8_000))
EACH_AT_ONCE = Mix(messages=400, photos=60, videograms=2, songs=16)  # about 60 MB a tablet
AT_ONCE_ROUNDS = 2

TEXTS = ("Hi baby, hope you are doing okay in there.",
         "The kids ask about you every night before bed.",
         "Mom says she will put money on your books Friday.",
         "We are coming to visit on the 14th if the schedule holds.",
         "The dog keeps sleeping on your side of the couch.",
         "Write me back when you get this, I miss your letters.",
         "Your sister got the job at the hospital, she starts Monday.",
         "Happy birthday! We had cake for you anyway.")
CONTACTS = ("Maria Lopez", "James Carter", "Aisha Brown", "Rosa Diaz", "Grandma Jo")


# -- the facility and the content -----------------------------------------------------------


@dataclass(frozen=True)
class Identities:
    kiosk: Credentials
    tablets: tuple[Credentials, ...]  # tablet i has serial SERIALS[i], resident RESIDENTS[i]
    ca: Path

    @property
    def tablet(self) -> Credentials:
        return self.tablets[0]


def _facility(directory: Path) -> Identities:
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    ca_key = Ed25519PrivateKey.generate()
    ca = make_ca(ca_key, "Bench Facility", now=now)
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    made = []
    for number, (role, name, serial) in enumerate(
            [(Role.KIOSK, "kiosk", None)]
            + [(Role.TABLET, f"tablet-{i}", SERIALS[i]) for i in range(AT_ONCE)], 2):
        key = Ed25519PrivateKey.generate()
        cert = issue(ca, ca_key, key.public_key(), role=role, name=name, serial=serial,
                     now=now, serial_number=number)
        (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (directory / f"{name}.key").write_bytes(private_key_pem(key))
        made.append(Credentials(directory / f"{name}.pem", directory / f"{name}.key"))
    return Identities(made[0], tuple(made[1:]), directory / "ca.pem")


def _load_ca(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _load_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


@dataclass
class Content:
    blobs: dict[str, int]  # sha hex -> size
    bodies: list[bytes]  # each record's body as canonical CBOR

    @property
    def blob_bytes(self) -> int:
        return sum(self.blobs.values())

    @property
    def payload_bytes(self) -> int:
        return self.blob_bytes + sum(len(b) for b in self.bodies)


def _tablets(cache: KioskCache, count: int = 1) -> None:
    """The unit's tablets as the kiosk knows them: tablet i is resident i's."""
    cache.set_tablets([{"serial": SERIALS[i], "resident_id": RESIDENTS[i],
                        "resident_agency_id": AGENCY_IDS[i], "status": "active"}
                       for i in range(count)])


def _cache(directory: Path) -> KioskCache:
    """A kiosk cache, sealed at rest as a kiosk's is (a key of this run)."""
    return KioskCache(directory, SEALER)


def _fill(cache: KioskCache, mix: Mix, rand: random.Random, resident: int = RESIDENT,
          plain: Path | None = None) -> Content:
    """A kiosk cache holding one resident's feed, as the central server sends it
    (with ``plain``, each blob's bytes also as a plain file there, for rsync)."""
    content = Content({}, [])

    def blob(size_range: tuple[int, int]) -> tuple[str, int]:
        size = rand.randint(*size_range)
        data = os.urandom(size)
        sha = hashlib.sha256(data).hexdigest()
        cache.put_blob(sha, data)
        if plain is not None:
            (plain / sha).write_bytes(data)
        content.blobs[sha] = size
        return sha, size

    attached: dict[int, tuple[str, str, tuple[int, int]]] = {}
    step = mix.messages // max(1, mix.photos + mix.videograms)
    for n in range(mix.photos + mix.videograms):
        attached[n * step] = (("photo", "image/jpeg", mix.photo_size) if n < mix.photos
                              else ("videogram", "video/mp4", mix.videogram_size))
    records: list[dict[str, Any]] = []
    for i in range(mix.messages):
        attachments = []
        if i in attached:
            kind, media_type, size_range = attached[i]
            sha, size = blob(size_range)
            attachments.append({"kind": kind, "sha256": sha, "size": size,
                                "media_type": media_type})
        uid = f"m-{i + 1:06d}"
        records.append({"kind": "message", "ref": uid, "body": {
            "uid": uid, "body": rand.choice(TEXTS), "contact_name": rand.choice(CONTACTS),
            "direction": "to_resident", "attachments": attachments}})
    for i in range(mix.songs):
        sha, size = blob(mix.song_size)
        records.append({"kind": "entitlement", "ref": str(1000 + i), "body": {
            "entitlement_id": 1000 + i, "title": f"Song {i + 1}", "sha256": sha, "size": size,
            "state": "paid"}})
    for seq, record in enumerate(records, 1):
        record["seq"] = seq
        record["created_at"] = 0
        content.bodies.append(cbor2.dumps(record["body"], canonical=True))
    for start in range(0, len(records), 1000):
        page = records[start:start + 1000]
        cache.apply_feed(resident, page[-1]["seq"], page)
    return content


# -- CPU time -------------------------------------------------------------------------------


def _machine_busy() -> float:
    """CPU seconds the whole machine has been busy (every core, the kernel's
    work included: user, nice, system, irq, softirq, steal), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _rusage_s(usage: Any) -> float:
    return float(usage.ru_utime + usage.ru_stime)


@dataclass(frozen=True)
class Cpu:
    """A process's CPU seconds: in its own code and libraries, and in the kernel for it."""

    user: float = 0.0
    system: float = 0.0

    @property
    def total(self) -> float:
        return self.user + self.system

    @classmethod
    def now(cls) -> Cpu:
        times = os.times()
        return cls(times.user, times.system)

    def since(self, before: Cpu) -> Cpu:
        return Cpu(self.user - before.user, self.system - before.system)

    def per_mb(self, mb: float) -> str:
        return (f"{self.total * 1000 / mb:.1f} ms/MB ({self.user * 1000 / mb:.1f} user, "
                f"{self.system * 1000 / mb:.1f} system)")


# -- the cable's process ------------------------------------------------------------------


def _cable(conn: Connection) -> None:
    link: SimLink | None = None
    cpu = Cpu()
    while True:
        command, arg = conn.recv()
        if command == "open":
            link = SimLink("bench-sync")
            link.open()
            cpu = Cpu.now()
            conn.send((link.kiosk_tty, link.gadget_tty))
        elif command == "fault":
            assert link is not None
            link.set_fault(Fault(direction="down", drop_at=arg))
            conn.send("ok")
        elif command == "cut":
            assert link is not None
            link.cut()
            conn.send({**link.bytes, "cpu": Cpu.now().since(cpu)})
            link = None
        elif command == "stop":
            if link is not None:
                link.cut()
            return


# -- the tablet's process -----------------------------------------------------------------


def _held(store: TabletStore) -> int:
    """The blob bytes the tablet has made durable: complete blobs and partial ones."""
    return store.held_bytes()


def _read_exactly(fd: int, size: int) -> bytes:
    parts, got = [], 0
    while got < size:
        data = os.read(fd, size - got)
        if not data:
            raise EOFError(f"the link ended after {got} of {size} bytes")
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _rsync_server(tty: str, conn: Connection, stderr_path: Path) -> tuple[int, float]:
    """The tablet's end of rsync: take the command the bridge sends down, run it
    on the gadget pty, and frame what it writes on the way up. Its exit status,
    and the CPU seconds of the receiving rsync's processes."""
    fd = os.open(tty, os.O_RDWR | os.O_NOCTTY)
    try:
        conn.send("ready")
        size = int.from_bytes(_read_exactly(fd, 4), "big")
        command = _read_exactly(fd, size).decode().split("\0")
        if command[:2] != ["rsync", "--server"]:
            raise RuntimeError(f"not an rsync server command: {command!r}")
        with stderr_path.open("wb") as stderr:
            server = subprocess.Popen(command, stdin=fd, stdout=subprocess.PIPE, stderr=stderr)
            assert server.stdout is not None
            out = server.stdout.fileno()
            while data := os.read(out, 256 * 1024):
                _write_all(fd, b"\0" + len(data).to_bytes(4, "big") + data)
            _, wait_status, usage = os.wait4(server.pid, 0)  # its forked generator included
            server.returncode = status = os.waitstatus_to_exitcode(wait_status)
        _write_all(fd, b"\1" + status.to_bytes(4, "big"))
        return status, _rusage_s(usage)
    finally:
        os.close(fd)


def _tablet(conn: Connection, identities: Identities, index: int) -> None:
    context = make_context("accept", identities.tablets[index], _load_ca(identities.ca))
    key = _load_key(identities.tablets[index].key)
    store: TabletStore | None = None
    while True:
        command, args = conn.recv()
        if command == "stop":
            if store is not None:
                store.close()
            return
        if command == "store":  # a new, empty tablet (the old one is closed and removed)
            if store is not None:
                store.close()
                shutil.rmtree(store.directory)
            store = TabletStore(Path(args), serial=SERIALS[index], sign=key.sign,
                                sealer=Sealer(derive_key(key, b"content")))
            conn.send(_held(store))
        elif command == "dock":
            assert store is not None
            tty, counter = args
            result: SessionSummary | str
            with open_link(f"serial://{tty}") as stream:  # opening flushes: before any bytes
                conn.send("open")
                cpu = Cpu.now()  # every thread of the tablet's process
                try:
                    channel = SecureChannel.accept(stream, context, timeout=10)
                    result = serve_tablet(FrameStream(channel), store, counter=counter)
                    channel.close()
                except Exception as e:  # noqa: BLE001 - an unplug, reported to the kiosk
                    result = f"{type(e).__name__}: {e}"
                cpu = Cpu.now().since(cpu)
            conn.send((result, _held(store), cpu))
        elif command == "raw":
            tty, size = args
            with open_link(f"serial://{tty}") as stream:
                conn.send("ready")
                got = 0
                while got < size:
                    got += len(stream.read(65536, 30))
            conn.send("done")
        elif command == "rsync":
            tty, stderr_path = args
            try:
                conn.send(_rsync_server(tty, conn, Path(stderr_path)))
            except Exception as e:  # noqa: BLE001 - reported to the kiosk
                conn.send(f"{type(e).__name__}: {e}")


# -- rsync's remote shell ---------------------------------------------------------------------

# rsync runs this as ``python bridge.py TTY CPUFILE HOST COMMAND...``: it sends
# COMMAND down the kiosk's pty, then rsync's bytes; it passes up what the tablet
# frames (kind 0: rsync's bytes; kind 1: the command's exit status, which it
# exits with, after writing its own CPU seconds to CPUFILE: the bridge stands
# for ssh, and its CPU is not rsync's).
RSH_BRIDGE = '''\
import os, resource, sys, threading
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
def write_all(out, data):
    view = memoryview(data)
    while view:
        view = view[os.write(out, view):]
def read_exactly(size):
    parts, got = [], 0
    while got < size:
        data = os.read(fd, size - got)
        if not data:
            os._exit(255)
        parts.append(data)
        got += len(data)
    return b"".join(parts)
command = "\\0".join(sys.argv[4:]).encode()
write_all(fd, len(command).to_bytes(4, "big") + command)
def down():
    while data := os.read(0, 262144):
        write_all(fd, data)
threading.Thread(target=down, daemon=True).start()
while True:
    head = read_exactly(5)
    value = int.from_bytes(head[1:], "big")
    if head[0] == 1:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with open(sys.argv[2], "w") as cpu:
            cpu.write(str(usage.ru_utime + usage.ru_stime))
        os._exit(value)
    write_all(1, read_exactly(value))
'''


# -- the kiosk (this process) -------------------------------------------------------------------


class Peer:
    """A process at the other end of a pipe, answering commands."""

    def __init__(self, conn: Connection, name: str) -> None:
        self.conn = conn
        self.name = name

    def answer(self) -> Any:
        if not self.conn.poll(ANSWER_TIMEOUT):
            raise RuntimeError(f"the {self.name} did not answer in {ANSWER_TIMEOUT:.0f} s")
        return self.conn.recv()

    def ask(self, command: str, args: Any = None) -> Any:
        self.conn.send((command, args))
        return self.answer()

    def expect(self, answer: str, command: str | None = None, args: Any = None) -> None:
        """Send ``command`` (if any) and check the answer; raises RuntimeError."""
        got = self.answer() if command is None else self.ask(command, args)
        if got != answer:
            raise RuntimeError(f"the {self.name} answered {got!r}, not {answer!r}")


@dataclass
class Dock:
    kiosk: SessionSummary | str
    tablet: SessionSummary | str
    held: int  # the tablet's durable blob bytes after the dock
    down: int  # bytes that crossed the cable from the kiosk
    kiosk_cpu: Cpu = Cpu()  # the kiosk's process in the dock
    tablet_cpu: Cpu = Cpu()  # the tablet's process
    relay_cpu: Cpu = Cpu()  # the cable's relay process
    wall: float = 0.0  # from opening the link to the Bye (handshake included)

    @property
    def summary(self) -> SessionSummary:
        if not (isinstance(self.kiosk, SessionSummary) and isinstance(self.tablet,
                                                                       SessionSummary)):
            raise RuntimeError(f"the dock failed: kiosk {self.kiosk}, tablet {self.tablet}")
        return self.kiosk


@dataclass
class RsyncRun:
    seconds: float  # the client's whole run, start to exit
    down: int  # bytes that crossed the cable from the kiosk
    sender_cpu: float  # CPU seconds of the sending rsync (its remote shell not counted)
    shell_cpu: float  # ... of its remote shell, which writes to the cable as ssh would
    receiver_cpu: float  # ... of the receiving rsync's processes (they read the cable)


class Rig:
    """The kiosk's end of the processes: docks, raw copies and rsync runs."""

    def __init__(self, cable: Peer, tablet: Peer, identities: Identities, index: int = 0) -> None:
        self.cable = cable
        self.tablet = tablet
        self.index = index
        self.context = make_context("connect", identities.kiosk, _load_ca(identities.ca))
        self.docked = DockedResident(SERIALS[index], RESIDENTS[index], AGENCY_IDS[index],
                                     _load_key(identities.tablets[index].key).public_key())
        self.counter = 0

    def dock(self, cache: KioskCache, drop_at: int | None = None) -> Dock:
        kiosk_tty, gadget_tty = self.cable.ask("open")
        if drop_at is not None:
            self.cable.ask("fault", drop_at)
        self.counter += 1
        self.tablet.expect("open", "dock", (gadget_tty, self.counter))
        kiosk: SessionSummary | str
        started, cpu = time.perf_counter(), Cpu.now()
        try:
            with open_link(f"serial://{kiosk_tty}") as stream:
                channel = SecureChannel.connect(stream, self.context, timeout=10)
                kiosk = run_kiosk(FrameStream(channel), cache, self.docked, kiosk=KIOSK)
                channel.close()
        except Exception as e:  # noqa: BLE001 - an unplug ends the dock; the caller looks
            kiosk = f"{type(e).__name__}: {e}"
        cpu, wall = Cpu.now().since(cpu), time.perf_counter() - started
        tablet, held, tablet_cpu = self.tablet.answer()
        cut = self.cable.ask("cut")
        return Dock(kiosk, tablet, held, cut["down"], cpu, tablet_cpu, cut["cpu"], wall)

    def raw_seconds(self) -> float:
        kiosk_tty, gadget_tty = self.cable.ask("open")
        block = os.urandom(RAW_BLOCK)
        try:
            with open_link(f"serial://{kiosk_tty}") as stream:
                self.tablet.expect("ready", "raw", (gadget_tty, RAW_BYTES))
                started = time.perf_counter()
                for start in range(0, RAW_BYTES, RAW_BLOCK):
                    stream.write(block[: min(RAW_BLOCK, RAW_BYTES - start)], 30)
                self.tablet.expect("done")
                return time.perf_counter() - started
        finally:
            self.cable.ask("cut")

    def rsync(self, sources: list[str], target: Path, bridge: Path, *,
              fsync: bool = False) -> RsyncRun:
        """One rsync run over a new cable (``--fsync``: each file synced, as the
        tablet syncs each chunk)."""
        kiosk_tty, gadget_tty = self.cable.ask("open")
        stderr = target.parent / "rsync-server.err"
        bridge_cpu = target.parent / "rsync-bridge.cpu"
        try:
            self.tablet.expect("ready", "rsync", (gadget_tty, str(stderr)))
            started = time.perf_counter()
            with subprocess.Popen(
                    ["rsync", "-a", "-W", *(["--fsync"] if fsync else []),
                     f"--rsh={sys.executable} -I -S {bridge} {kiosk_tty} {bridge_cpu}",
                     *sources, f"tablet:{target}/"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as client:
                assert client.stderr is not None
                errors = client.stderr.read()
                # The sender's CPU: the rsync client and its remote shell, less the shell's.
                _, wait_status, usage = os.wait4(client.pid, 0)
                client.returncode = os.waitstatus_to_exitcode(wait_status)
            elapsed = time.perf_counter() - started
            server = self.tablet.answer()
        finally:
            down = self.cable.ask("cut")["down"]
        if client.returncode or not isinstance(server, tuple) or server[0] != 0:
            raise RuntimeError(f"rsync failed: client {client.returncode} {errors!r}, "
                               f"server {server!r} {stderr.read_text()!r}")
        shell = float(bridge_cpu.read_text())
        return RsyncRun(elapsed, down, _rusage_s(usage) - shell, shell, server[1])


def _first_dock(rig: Rig, work: Path) -> dict[str, tuple[float, str, str]]:
    cache = _cache(work / "kiosk-first")
    _tablets(cache)
    unsealed = work / "plain-blobs"  # the same files unsealed: what rsync copies
    unsealed.mkdir()
    content = _fill(cache, FIRST, random.Random(SEED), plain=unsealed)
    records_file = work / "records.cbor"  # the same record bodies, for rsync
    records_file.write_bytes(b"".join(content.bodies))
    bridge = work / "rsh_bridge.py"
    bridge.write_text(RSH_BRIDGE)
    target = work / "rsync-target"
    files = len(content.blobs) + 1
    raw_s = float("inf")
    ours: Dock | None = None
    plain: RsyncRun | None = None
    synced: RsyncRun | None = None
    busy: list[float] = []  # the machine's busy cores during each first dock
    for round_no in range(ROUNDS):
        raw_s = min(raw_s, rig.raw_seconds())

        rig.tablet.ask("store", str(work / f"tablet-first-{round_no}"))
        cache.replace_delivered(SERIAL, set())  # a tablet this kiosk has not seen
        machine = _machine_busy()
        dock = rig.dock(cache)
        busy.append((_machine_busy() - machine) / dock.wall)
        summary = dock.summary
        if (summary.blobs, summary.blob_bytes, summary.records) != (
                len(content.blobs), content.blob_bytes, len(content.bodies)):
            raise RuntimeError(f"the first dock moved {summary}")
        if ours is None or summary.seconds < ours.summary.seconds:
            ours = dock

        for fsync in (False, True):
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            run = rig.rsync([f"{unsealed}/", str(records_file)], target, bridge,
                            fsync=fsync)
            got = [p.stat().st_size for p in target.iterdir()]
            if (len(got), sum(got)) != (files, content.payload_bytes) or \
                    run.down < content.payload_bytes:
                raise RuntimeError(f"rsync left {len(got)} files, {sum(got)} bytes, having "
                                   f"sent {run.down} bytes down the cable; expected {files} "
                                   f"files, {content.payload_bytes} bytes")
            best = synced if fsync else plain
            if best is None or run.seconds < best.seconds:
                if fsync:
                    synced = run
                else:
                    plain = run
    shutil.rmtree(target, ignore_errors=True)
    cache.close()
    assert ours is not None and plain is not None and synced is not None
    ours_s = ours.summary.seconds
    payload = content.payload_bytes
    mb = payload / 1e6
    raw = RAW_BYTES / raw_s / 1e6
    goodput = payload / ours_s / 1e6
    what = (f"a first dock of {mb:.0f} MB of random bytes ({len(content.blobs)} blobs: "
            f"{FIRST.photos} photos, {FIRST.songs} songs, {FIRST.videograms} videograms; plus "
            f"the bodies of {len(content.bodies)} records as CBOR)")
    tablet_ms, kiosk_ms = ours.tablet_cpu.total * 1000 / mb, ours.kiosk_cpu.total * 1000 / mb
    receiver_ms = synced.receiver_cpu * 1000 / mb
    sender_ms = (synced.sender_cpu + synced.shell_cpu) * 1000 / mb
    return {
        "sync.tablet_cpu_ms_per_mb": (
            tablet_ms, "ms/MB",
            f"CPU (user+system, every thread) of the tablet's process per MB of payload in "
            f"{what}: {ours.tablet_cpu.per_mb(mb)}: reading the cable, TLS, sealing and "
            f"syncing every chunk, hashing, receipts, the store. rsync -a -W --fsync's "
            f"receiving processes (which read the cable themselves) took {receiver_ms:.1f} "
            f"ms/MB for the same files over the same cable: {tablet_ms / receiver_ms:.2f}x; "
            f"the fastest of {ROUNDS} docks; target <= 1.5x"),
        "sync.kiosk_cpu_ms_per_mb": (
            kiosk_ms, "ms/MB",
            f"CPU of the kiosk's process per MB of payload in that dock: "
            f"{ours.kiosk_cpu.per_mb(mb)}: reading the cache, framing, TLS, writing the "
            f"cable, checking receipts. rsync --fsync's sender with its remote shell (the "
            f"part that writes the cable, as ssh would; no encryption) took {sender_ms:.1f} "
            f"ms/MB ({synced.sender_cpu * 1000 / mb:.1f} the sender alone): "
            f"{kiosk_ms / sender_ms:.2f}x. The cable's relay took "
            f"{ours.relay_cpu.per_mb(mb)}; the machine was busy "
            f"{statistics.median(busy):.2f} cores in a dock; target <= 1.5x"),
        "sync.vs_rsync_fsync_time_ratio": (
            ours_s / synced.seconds, "ratio",
            f"that first dock's {ours_s:.2f} s over rsync -a -W --fsync's {synced.seconds:.2f} s "
            f"(start to exit) moving the same {files} files into an empty directory over the "
            f"same kind of link (its remote shell bridged to the kiosk's pty, rsync --server "
            f"on the tablet's), each file synced as the tablet syncs each chunk; best of "
            f"{ROUNDS}; target <= 1.0"),
        "sync.vs_rsync_time_ratio": (
            ours_s / plain.seconds, "ratio",
            f"the same over rsync -a -W without --fsync ({plain.seconds:.2f} s)"),
        "sync.first_goodput_ratio": (
            goodput / raw, "ratio",
            f"{what}: {goodput:.1f} MB/s from Hello to Bye (TLS handshake excluded) over the "
            f"raw link's {raw:.1f} MB/s (hw.serial_link, no TLS) in the same run; kiosk, "
            f"tablet and relay in their own processes; best of {ROUNDS}. On this machine "
            f"the link's ptys and relay share the cores with both ends, so this measures the "
            f"machine more than the sync"),
    }


def _docks_at_once(rigs: list[Rig], work: Path) -> dict[str, tuple[float, str, str]]:
    """Four tablets docking at once at one kiosk (one cache, a dock thread each,
    as the kiosk's device workers run them) against one of them alone."""
    cache = _cache(work / "kiosk-at-once")
    _tablets(cache, len(rigs))
    contents = [_fill(cache, EACH_AT_ONCE, random.Random(SEED + 100 + i), RESIDENTS[i])
                for i in range(len(rigs))]
    payload = sum(c.payload_bytes for c in contents)
    alone = together = 0.0
    alone_busy = together_busy = 0.0
    for round_no in range(AT_ONCE_ROUNDS):
        for i, rig in enumerate(rigs):
            rig.tablet.ask("store", str(work / f"at-once-{round_no}-{i}"))
            cache.replace_delivered(SERIALS[i], set())
        machine = _machine_busy()
        dock = rigs[0].dock(cache)
        dock.summary  # noqa: B018 - raises if the dock failed
        rate = contents[0].payload_bytes / dock.wall / 1e6
        if rate > alone:
            alone, alone_busy = rate, (_machine_busy() - machine) / dock.wall
        for i, rig in enumerate(rigs):
            rig.tablet.ask("store", str(work / f"at-once-{round_no}-{i}-b"))
            cache.replace_delivered(SERIALS[i], set())
        docks: list[Dock | None] = [None] * len(rigs)

        def one(i: int, docks: list[Dock | None] = docks) -> None:
            docks[i] = rigs[i].dock(cache)

        threads = [threading.Thread(target=one, args=(i,), name=f"dock-{i}")
                   for i in range(len(rigs))]
        machine, started = _machine_busy(), time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(ANSWER_TIMEOUT)
        wall = time.perf_counter() - started
        for i, each in enumerate(docks):
            summary = each.summary if each is not None else None
            if summary is None or summary.blobs != len(contents[i].blobs):
                raise RuntimeError(f"dock {i} of {len(rigs)} at once moved {summary}")
        rate = payload / wall / 1e6
        if rate > together:
            together, together_busy = rate, (_machine_busy() - machine) / wall
    cache.close()
    cores = os.cpu_count() or 1
    allowed = min(float(len(rigs)), cores / alone_busy)  # what the CPU allows four docks
    return {
        "sync.docks_at_once_ratio": (
            together / alone / allowed, "ratio",
            f"{len(rigs)} tablets docking at once at one kiosk ({EACH_AT_ONCE.messages} "
            f"messages and {payload / len(rigs) / 1e6:.0f} MB each, every tablet and every "
            f"cable's relay a process of its own, the kiosk one process with a dock thread "
            f"per tablet): {together:.1f} MB/s in all, against {alone:.1f} MB/s for one "
            f"alone ({together / alone:.2f}x). One dock alone kept the machine "
            f"{alone_busy:.2f} of its {cores} cores busy (/proc/stat, the kernel's tty work "
            f"included), so the CPU allows at most {allowed:.2f}x; four kept it "
            f"{together_busy:.2f} cores busy. The figure is the gain over what the CPU "
            f"allows; best of {AT_ONCE_ROUNDS}; target >= 0.9"),
    }


def _nothing_new_ms(rig: Rig, work: Path, name: str, mix: Mix) -> tuple[float, float]:
    """The median and the 95th percentile of docks with nothing new, in ms."""
    cache = _cache(work / f"kiosk-{name}")
    _tablets(cache)
    content = _fill(cache, mix, random.Random(SEED + mix.messages))
    rig.tablet.ask("store", str(work / f"tablet-{name}"))
    summary = rig.dock(cache).summary  # the tablet gets everything once
    if (summary.records, summary.blobs) != (len(content.bodies), len(content.blobs)):
        raise RuntimeError(f"the first dock moved {summary}")
    times = []
    for _ in range(NOTHING_NEW_DOCKS):
        summary = rig.dock(cache).summary
        if summary.records or summary.blobs:
            raise RuntimeError(f"a dock with nothing new moved {summary}")
        times.append(summary.seconds)
    cache.close()
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.95) - 1] * 1000


def _unplugs(rig: Rig, work: Path) -> dict[str, tuple[float, str, str]]:
    cache = _cache(work / "kiosk-unplug")
    cache.set_tablets([{"serial": SERIAL, "resident_id": RESIDENT,
                        "resident_agency_id": AGENCY_ID, "status": "active"}])
    data = os.urandom(RESUME_BLOB)
    sha = hashlib.sha256(data).hexdigest()
    cache.put_blob(sha, data)
    cache.apply_feed(RESIDENT, 1, [{"seq": 1, "kind": "entitlement", "ref": "1", "created_at": 0,
                                    "body": {"entitlement_id": 1, "title": "A long videogram",
                                             "sha256": sha, "size": RESUME_BLOB,
                                             "state": "paid"}}])
    rand = random.Random(SEED + 1)
    twice = []
    for drop in range(DROPS):
        before = rig.tablet.ask("store", str(work / f"tablet-unplug-{drop}"))
        cache.replace_delivered(SERIAL, set())
        drop_at = rand.randrange(CHUNK, RESUME_BLOB - CHUNK)
        cut = rig.dock(cache, drop_at=drop_at)
        if isinstance(cut.kiosk, SessionSummary):
            raise RuntimeError(f"the dock cut at {drop_at} bytes completed")
        twice.append(cut.down - (cut.held - before))
        summary = rig.dock(cache).summary  # plugged in again: the rest, and only the rest
        resumed = summary.resumed_at.get(sha, 0)
        if summary.blobs != 1 or resumed != cut.held - before or \
                summary.blob_bytes != RESUME_BLOB - resumed:
            raise RuntimeError(f"after a cut with {cut.held} bytes durable, the next dock "
                               f"moved {summary}")
    cache.close()
    return {
        "sync.resume_retransfer_bytes": (
            statistics.median(twice), "bytes",
            f"bytes sent twice when the cable is cut at a random byte of a "
            f"{RESUME_BLOB // 2**20} MiB blob: down bytes of the cut dock (handshake and "
            f"framing included) less what the tablet made durable in it; median of {DROPS} "
            f"(max {max(twice)}); a chunk is {CHUNK} bytes; target <= one chunk"),
    }


def _processes(identities: Identities, count: int,
               body: Callable[[list[Rig]], dict[str, tuple[float, str, str]]]
               ) -> dict[str, tuple[float, str, str]]:
    """``count`` tablets, each with its cable, in processes of their own; the kiosk here."""
    ctx = multiprocessing.get_context("spawn")
    ends: list[tuple[Connection, multiprocessing.process.BaseProcess]] = []
    rigs = []
    try:
        for i in range(count):
            cable_conn, cable_end = ctx.Pipe()
            cable = ctx.Process(target=_cable, args=(cable_end,), name=f"cable-{i}")
            tablet_conn, tablet_end = ctx.Pipe()
            tablet = ctx.Process(target=_tablet, args=(tablet_end, identities, i),
                                 name=f"tablet-{i}")
            cable.start()
            tablet.start()
            ends += [(tablet_conn, tablet), (cable_conn, cable)]
            rigs.append(Rig(Peer(cable_conn, "cable"), Peer(tablet_conn, "tablet"), identities,
                            i))
        return body(rigs)
    finally:
        for conn, process in ends:
            conn.send(("stop", None))
            process.join(30)
            if process.is_alive():
                process.kill()


def run() -> dict[str, tuple[float, str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        identities = _facility(work)

        def body(rigs: list[Rig]) -> dict[str, tuple[float, str, str]]:
            rig = rigs[0]
            figures = _first_dock(rig, work)
            large, large_p95 = _nothing_new_ms(rig, work, "large", NOTHING_NEW)
            small, small_p95 = _nothing_new_ms(rig, work, "small", NOTHING_NEW_SMALL)
            figures["sync.nothing_new_ms"] = (
                large, "ms",
                f"a dock with nothing new for a tablet holding {NOTHING_NEW.messages:,} "
                f"messages and {NOTHING_NEW.photos:,} files: the session from Hello to Bye, "
                f"TLS handshake excluded; median of {NOTHING_NEW_DOCKS} docks (p95 "
                f"{large_p95:.1f} ms); target <= 50 ms and flat")
            figures["sync.nothing_new_ms_small"] = (
                small, "ms",
                f"the same with {NOTHING_NEW_SMALL.messages} messages and "
                f"{NOTHING_NEW_SMALL.photos} files (p95 {small_p95:.1f} ms); "
                f"sync.nothing_new_ms is {large / small:.1f}x this")
            figures.update(_unplugs(rig, work))
            figures.update(_docks_at_once(rigs, work))
            return figures

        return _processes(identities, AT_ONCE, body)
