"""The firmware image format: a POSIX tar whose first member is
``manifest.json`` (what the image is for and every file's SHA-256), followed
by the files of the directory it was built from, in sorted order, with fixed
owners, modes and times, so that building the same directory twice gives the
same bytes.

The manifest is informational on the device: what the device trusts is the
signed target (length, hashes, model, kind, version) in the targets metadata.
``selftest`` is the simulated image's self-test result ("pass" or "fail"): the
harness builds an image that fails its health check with ``selftest="fail"``.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from firmware_images.errors import ImageFormatError

FORMAT = 1
MANIFEST = "manifest.json"
MAX_MANIFEST = 1024 * 1024
MAX_FILES = 10_000
KINDS = ("tablet", "kiosk")
SELFTESTS = ("pass", "fail")
MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
LABEL = re.compile(r"^[ -~]{0,64}$")  # printable ASCII
MAX_VERSION = 2**31 - 1
_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class Manifest:
    """What an image says it is. ``version`` is a positive integer that only
    grows; ``min_version`` is the oldest installed version it may replace."""

    model: str
    kind: str
    version: int
    min_version: int
    label: str
    selftest: str = "pass"

    def __post_init__(self) -> None:
        check_fields(self.model, self.kind, self.version, self.min_version, self.label)
        if self.selftest not in SELFTESTS:
            raise ImageFormatError("selftest is pass or fail", observed=self.selftest)

    @classmethod
    def from_fields(cls, fields: Mapping[str, object]) -> Manifest:
        """A manifest from untrusted fields. Raises ImageFormatError."""
        model, kind, version, min_version, label = (
            fields.get(k) for k in ("model", "kind", "version", "min_version", "label"))
        check_fields(model, kind, version, min_version, label)
        selftest = fields.get("selftest", "pass")
        return cls(cast(str, model), cast(str, kind), cast(int, version),
                   cast(int, min_version), cast(str, label), cast(str, selftest))

    @property
    def target_name(self) -> str:
        """The image's name in the repository: ``<model>/<kind>-<version>.img``."""
        return f"{self.model}/{self.kind}-{self.version}.img"


def check_fields(model: object, kind: object, version: object, min_version: object,
                 label: object) -> None:
    """Raise ImageFormatError unless these are an image's fields."""
    if not isinstance(model, str) or not MODEL.match(model):
        raise ImageFormatError("a model is 1-32 letters, digits, - or _", observed=model)
    if kind not in KINDS:
        raise ImageFormatError(f"the kind is one of {KINDS}", observed=kind)
    for name, value in (("version", version), ("min_version", min_version)):
        if isinstance(value, bool) or not isinstance(value, int) \
                or not 0 <= value <= MAX_VERSION:
            raise ImageFormatError(f"{name} is a whole number from 0 to {MAX_VERSION}",
                                   observed=value)
    assert isinstance(version, int) and isinstance(min_version, int)
    if version < 1 or min_version > version:
        raise ImageFormatError("0 <= min_version <= version and version >= 1",
                               version=version, min_version=min_version)
    if not isinstance(label, str) or not LABEL.match(label):
        raise ImageFormatError("a label is up to 64 printable ASCII characters",
                               observed=label)


@dataclass(frozen=True)
class BuiltImage:
    path: Path
    manifest: Manifest
    length: int
    sha256: str


def build_image(source: Path, out: Path, manifest: Manifest) -> BuiltImage:
    """Build the image of the directory ``source`` into ``out``. Raises
    ImageFormatError for a missing directory, a link or special file in it, or
    too many files."""
    if not source.is_dir():
        raise ImageFormatError("build from a directory", path=str(source))
    files: list[tuple[str, Path]] = []
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source).as_posix()
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            raise ImageFormatError("an image holds plain files and directories only",
                                   path=rel)
        if path.is_file():
            if rel == MANIFEST:
                raise ImageFormatError("the manifest is written by the build", path=rel)
            files.append((rel, path))
    if len(files) > MAX_FILES:
        raise ImageFormatError(f"at most {MAX_FILES} files", observed=len(files))
    listing = {rel: {"sha256": _file_sha(path), "size": path.stat().st_size}
               for rel, path in files}
    body = json.dumps({
        "format": FORMAT, "model": manifest.model, "kind": manifest.kind,
        "version": manifest.version, "min_version": manifest.min_version,
        "label": manifest.label, "selftest": manifest.selftest, "files": listing,
    }, sort_keys=True, separators=(",", ":")).encode()
    tmp = out.with_name(f".{out.name}.tmp")
    with tarfile.open(tmp, "w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(_info(MANIFEST, len(body)), io.BytesIO(body))
        for rel, path in files:
            with path.open("rb") as f:
                tar.addfile(_info(rel, path.stat().st_size), f)
    tmp.replace(out)
    return BuiltImage(out, manifest, out.stat().st_size, _file_sha(out))


def read_manifest(path: Path) -> Manifest:
    """The manifest of the image at ``path``. Raises ImageFormatError when the
    file is not an image of this format."""
    try:
        with tarfile.open(path, "r:") as tar:
            first = tar.next()
            if first is None or first.name != MANIFEST or not first.isfile() \
                    or first.size > MAX_MANIFEST:
                raise ImageFormatError("an image begins with its manifest", path=str(path))
            handle = tar.extractfile(first)
            assert handle is not None
            data = json.loads(handle.read(MAX_MANIFEST))
    except (OSError, tarfile.TarError, ValueError) as e:
        raise ImageFormatError(f"not a firmware image: {e}", path=str(path)) from e
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ImageFormatError("an unknown image format", path=str(path))
    return Manifest.from_fields(data)


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()
