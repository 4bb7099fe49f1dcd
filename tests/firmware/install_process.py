"""A tablet that installs firmware versions one after another, run as a
process the tests kill at random moments (tests/firmware/test_kills.py).

    python -m tests.firmware.install_process <firmware dir> <repository dir> <last version>

Every third version fails its health check and rolls back; the versions that
rolled back are remembered in <firmware dir>/failed.txt. Prints "done" when
the last version has been tried, and a line after each step (the tests
kill it a random number of lines in)."""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

from base.files import write_atomic
from firmware_images.boot import start
from firmware_images.device import FirmwareDevice
from firmware_images.image import read_manifest
from firmware_images.repository import Repository
from firmware_images.slots import BootChoice
from firmware_images.transfer import ImageSource
from tests.firmware.world import KIOSK, TIME_KEY, token
from tests.vectors.firmware.make_firmware_vectors import WHEN

CHUNK = 32 * 1024


def main(fw: Path, repo_dir: Path, last: int) -> int:
    device = FirmwareDevice(fw, model="JP5S", kind="tablet",
                            time_keys={KIOSK: TIME_KEY.public_key()})
    source = ImageSource(Repository(repo_dir))
    failed_file = fw / "failed.txt"

    def healthy(choice: BootChoice) -> bool:
        return read_manifest(device.slots.image_path(choice.slot)).selftest == "pass"

    while True:
        outcome = start(device.slots, healthy)
        print("booted", flush=True)
        failed = {int(v) for v in failed_file.read_text().split()} \
            if failed_file.exists() else set()
        if outcome.rolled_back:
            tried = device.state().slots[device.state().inactive]
            if tried is not None:
                failed.add(tried.version)
                write_atomic(failed_file, " ".join(map(str, sorted(failed))).encode())
        installed = device.report().version
        todo = [v for v in range(installed + 1, last + 1) if v not in failed]
        if not todo:
            print("done", flush=True)
            return 0
        version = todo[0]
        report = device.report()
        when = max(WHEN + datetime.timedelta(hours=1),
                   datetime.datetime.fromtimestamp(device.last_time(), datetime.UTC)
                   + datetime.timedelta(seconds=1))
        entry = device.consider(f"JP5S/tablet-{version}.img",
                                source.repository.bundle(report.root_version).to_bytes(),
                                token(device, when))
        offset = device.begin(entry)
        while offset < entry.length:
            offset = device.write(offset, source.chunk(entry.sha256, offset, CHUNK))
            print("chunk", flush=True)
        device.finish()
        print("installed", flush=True)


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])))
