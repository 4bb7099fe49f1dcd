"""``sallyport firmware``: keys, a repository, an image, threshold signing,
a key rotation and the status, through the command line's own functions."""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

import pytest

from firmware_images import cli
from firmware_images.bundle import MetadataBundle
from firmware_images.errors import ThresholdError
from firmware_images.repository import Repository
from firmware_images.trust import TrustedMetadata, verify_bundle


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="sallyport")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["firmware", *argv])
    result: int = args.func(args)
    return result


def test_from_keys_to_a_signed_rotated_repository(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    for name in ("root", "t1", "t2", "t3", "snapshot", "timestamp"):
        assert run("keygen", str(keys / f"{name}.pem")) == 0
    assert run("keygen", str(keys / "root.pem")) == 2  # never overwritten
    repo = tmp_path / "repo"
    assert run("init", str(repo), "--key", f"root={keys}/root.pem",
               "--key", f"targets={keys}/t1.pem", "--key", f"targets={keys}/t2.pem",
               "--key", f"snapshot={keys}/snapshot.pem",
               "--key", f"timestamp={keys}/timestamp.pem", "--threshold", "targets=2") == 0
    source = tmp_path / "image"
    (source / "bin").mkdir(parents=True)
    (source / "bin" / "app").write_bytes(b"\x7fELF" + bytes(5000))
    image = tmp_path / "jp5s-2.img"
    assert run("build", str(source), str(image), "--model", "JP5S", "--kind", "tablet",
               "--version", "2", "--label", "2026.03") == 0
    assert run("build", str(source), str(tmp_path / "x.img"), "--model", "JP5S",
               "--kind", "tablet", "--version", "0") == 2
    # the first targets key holder signs ...
    assert run("sign", str(repo), "--image", str(image), "--key", f"targets={keys}/t1.pem",
               "--key", f"snapshot={keys}/snapshot.pem",
               "--key", f"timestamp={keys}/timestamp.pem") == 0
    assert "needs 1 more signature" in capsys.readouterr().out
    bundle = MetadataBundle.from_bytes(Repository(repo).bundle(1).to_bytes())
    root = (repo / "metadata" / "1.root.json").read_bytes()
    with pytest.raises(ThresholdError):
        verify_bundle(TrustedMetadata(root), bundle, Repository(repo).status().roles[3].expires
                      - datetime.timedelta(hours=1))
    # ... then the second, and snapshot and timestamp follow
    assert run("sign", str(repo), "--key", f"targets={keys}/t2.pem",
               "--key", f"snapshot={keys}/snapshot.pem",
               "--key", f"timestamp={keys}/timestamp.pem") == 0
    out = capsys.readouterr().out
    assert "needs" not in out and "JP5S/tablet-2.img" in out
    status = Repository(repo).status()
    verify_bundle(TrustedMetadata(root), Repository(repo).bundle(1),
                  status.roles[3].expires - datetime.timedelta(hours=1))
    # the targets keys are replaced by one new key
    assert run("rotate-keys", str(repo), "--role", "targets", "--new-key", f"{keys}/t3.pem",
               "--key", f"root={keys}/root.pem", "--key", f"snapshot={keys}/snapshot.pem",
               "--key", f"timestamp={keys}/timestamp.pem") == 0
    assert Repository(repo).root_version() == 2
    verify_bundle(TrustedMetadata(root), Repository(repo).bundle(1),
                  Repository(repo).status().roles[3].expires
                  - datetime.timedelta(hours=1))
    assert run("status", str(repo)) == 0
    assert run("sign", str(repo), "--key", f"nobody={keys}/t3.pem") == 2


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("keygen", "init", "build", "sign", "publish", "rotate-keys", "status"):
        with pytest.raises(SystemExit) as done:
            run(command, "--help")
        assert done.value.code == 0
        assert "usage:" in capsys.readouterr().out
