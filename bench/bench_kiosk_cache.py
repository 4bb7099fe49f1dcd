"""What sealing the kiosk's cache at rest costs, in one run on one disk.

* ``kiosk_cache.read_ratio``: reading 64 MiB of blobs the way the sync session
  does (``KioskCache.open_blob``, a megabyte at a time, each 64 KiB segment
  opened and checked) over reading the same bytes from plain files (the
  cache before it was sealed). Above 1 means sealed is slower.
* ``kiosk_cache.write_ratio``: keeping those blobs (``put_blob``: sealed in
  segments, synced a megabyte at a time, moved into place) over writing them
  plainly and syncing each file once.
* ``kiosk_cache.feed_page_ratio``: applying and reading back a 500-record
  feed page (each body sealed, then opened) over the same with a cache whose
  bodies stay plain (measured on the pure SQL, without the sealing calls).

Best of five for each; the page cache is warm for both sides of a ratio.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from device_security.at_rest import Sealer
from kiosk.cache import KioskCache

BLOBS = 16
BLOB = 4 * 1024 * 1024
READ = 1024 * 1024
ROUNDS = 5
PAGE = 500


def _best(work: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def run() -> dict[str, tuple[float, str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        blobs = [os.urandom(BLOB) for _ in range(BLOBS)]
        names = [hashlib.sha256(b).hexdigest() for b in blobs]
        plain = root / "plain"
        plain.mkdir()
        sealer = Sealer(os.urandom(32))
        caches = iter(range(10_000))

        def write_plain() -> None:
            for name, data in zip(names, blobs, strict=True):
                with open(plain / name, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())

        def write_sealed() -> None:
            cache = KioskCache(root / f"sealed-{next(caches)}", sealer)
            for name, data in zip(names, blobs, strict=True):
                cache.put_blob(name, data)
            cache.close()

        write_plain_s = _best(write_plain)
        write_sealed_s = _best(write_sealed)
        cache = KioskCache(root / "reading", sealer)
        for name, data in zip(names, blobs, strict=True):
            cache.put_blob(name, data)

        def read_plain() -> None:
            for name in names:
                with open(plain / name, "rb") as f:
                    while f.read(READ):
                        pass

        def read_sealed() -> None:
            for name in names:
                with cache.open_blob(bytes.fromhex(name)) as f:
                    while f.read(READ):
                        pass

        read_plain_s = _best(read_plain)
        read_sealed_s = _best(read_sealed)
        records = [{"seq": i, "kind": "message", "ref": f"m-{i}", "body": {
            "uid": f"m-{i}", "body": "See you on Sunday, and bring the photos " * 3,
            "contact_name": "Rosa Webb", "direction": "to_resident", "attachments": []}}
            for i in range(1, PAGE + 1)]
        residents = iter(range(1, 10_000))

        def page_sealed() -> None:
            resident = next(residents)
            cache.apply_feed(resident, PAGE, records)
            assert len(cache.records_after(resident, 0, PAGE)) == PAGE

        def page_plain() -> None:
            resident = next(residents)
            with cache.local.transaction() as conn:
                conn.executemany("INSERT INTO records (resident_id, seq, kind, ref, body) "
                                 "VALUES (?, ?, ?, ?, ?)",
                                 [[resident, r["seq"], r["kind"], r["ref"],
                                   json.dumps(r["body"], separators=(",", ":"))]
                                  for r in records])
            rows = cache.local.rows("SELECT seq, kind, ref, body FROM records WHERE "
                                    "resident_id = ? AND seq > 0 ORDER BY seq LIMIT ?",
                                    [resident, PAGE])
            assert len([json.loads(r[3]) for r in rows]) == PAGE

        page_sealed_s = _best(page_sealed)
        page_plain_s = _best(page_plain)
        cache.close()
    size = BLOBS * BLOB / 2**20
    return {
        "kiosk_cache.read_ratio": (
            read_sealed_s / read_plain_s, "ratio",
            f"reading {size:.0f} MiB of sealed blobs as the sync session does "
            f"({size / read_sealed_s:.0f} MiB/s) over the same bytes from plain files "
            f"({size / read_plain_s:.0f} MiB/s); best of {ROUNDS}"),
        "kiosk_cache.write_ratio": (
            write_sealed_s / write_plain_s, "ratio",
            f"keeping {size:.0f} MiB of blobs sealed, synced a MiB at a time "
            f"({size / write_sealed_s:.0f} MiB/s) over writing and syncing them plainly "
            f"({size / write_plain_s:.0f} MiB/s); best of {ROUNDS}"),
        "kiosk_cache.feed_page_ratio": (
            page_sealed_s / page_plain_s, "ratio",
            f"a {PAGE}-record feed page applied and read back with every body sealed "
            f"({page_sealed_s * 1000:.1f} ms) over the same SQL with plain bodies "
            f"({page_plain_s * 1000:.1f} ms); best of {ROUNDS}"),
    }


if __name__ == "__main__":
    for figure, (value, unit, note) in run().items():
        print(f"{figure} = {value:.3f} {unit}: {note}")
