"""A process that writes to a tablet store as docks do, for the kill -9 tests.

``python -m tests.tablet.store_writer DIR KEY_HEX SEED`` opens the store at
DIR sealed under KEY_HEX and, until it is killed, applies batches of message
records, receives blobs chunk by chunk (resuming any it holds in part), and
writes drafts and hands them over. After each change is durable it prints
one line saying so, which is what the test may count on after the kill:

    batch THROUGH        records 1..THROUGH are applied
    chunk SHA DURABLE    DURABLE bytes of the blob SHA are durable
    blob SHA             the blob SHA is complete
    draft UID            a draft is written
    handed UID           a draft is handed over
"""

from __future__ import annotations

import hashlib
import random
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from device_security.at_rest import Sealer
from sync.frames import Record
from tablet.store import TabletStore

BATCH = 40
CHUNK = 256 * 1024


def blob(seed: int, n: int) -> bytes:
    """The n-th blob of a run: the same bytes for the test and this process."""
    return random.Random(seed * 1000 + n).randbytes(CHUNK * 3 + 1234 * (n + 1))


def record(seq: int) -> Record:
    return Record(seq, "message", f"m-{seq}", {
        "uid": f"m-{seq}", "direction": "to_resident", "contact_id": 1 + seq % 3,
        "contact_name": "Rosa Webb", "body": f"message number {seq}", "sent_at": seq,
        "attachments": []})


def main(directory: str, key: str, seed: int) -> None:
    store = TabletStore(Path(directory), serial="JP5S-000900",
                        sign=Ed25519PrivateKey.generate().sign, sealer=Sealer(bytes.fromhex(key)))
    rand = random.Random(seed)
    through = store.cursor()
    n = 0
    while True:
        action = rand.random()
        if action < 0.4:
            records = [record(s) for s in range(through + 1, through + 1 + BATCH)]
            through = store.apply_records(records, through + BATCH)
            print(f"batch {through}", flush=True)
        elif action < 0.85:
            data = blob(seed, n)
            n += 1
            sha = hashlib.sha256(data).digest()
            if store.has_blob(sha):
                continue
            held = dict(store.partials()).get(sha, 0)
            sink = store.begin_blob(sha, len(data), held)
            at = held
            while at < len(data):
                at = sink.write(at, data[at:at + CHUNK])
                print(f"chunk {sha.hex()} {at}", flush=True)
            sink.finish()
            print(f"blob {sha.hex()}", flush=True)
        else:
            uid = store.write_draft(resident="874512", contact=1, body=f"draft {rand.random()}")
            print(f"draft {uid}", flush=True)
            store.outbox_handed([uid])
            print(f"handed {uid}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
