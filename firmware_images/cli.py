"""``sallyport firmware``: build images, keep a signed repository, publish it
to the central server, rotate keys, and see where things stand.

    sallyport firmware keygen keys/targets-1.pem
    sallyport firmware init repo --key root=keys/root-1.pem --key targets=keys/targets-1.pem \\
        --key targets=keys/targets-2.pem --threshold targets=2 ...
    sallyport firmware build image-dir out.img --model JP5S --kind tablet --version 7
    sallyport firmware sign repo --image out.img --key targets=... --key snapshot=... ...
    sallyport firmware publish repo --server https://central:8443 --token T --ca ca.pem
    sallyport firmware rotate-keys repo --role targets --new-key keys/t3.pem --key root=...
    sallyport firmware status repo [--server ... --token ... --ca ...]
"""

from __future__ import annotations

import argparse
import datetime
import functools
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware_images.errors import FirmwareError, RepositoryError
from firmware_images.image import KINDS, Manifest, build_image
from firmware_images.keys import generate_key_file, load_signer
from firmware_images.repository import ROLES, Repository

EPILOG = "docs/firmware.md explains roles, keys, thresholds and time."


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "firmware", help="signed firmware images: build, sign, publish, rotate keys",
        description="Build firmware images, keep the agency's signed repository (TUF "
        "metadata: root, targets, snapshot, timestamp), publish it to the central "
        "server and rotate its keys.", epilog=EPILOG)
    sub = parser.add_subparsers(dest="firmware_command", required=True, metavar="COMMAND")

    p = sub.add_parser("keygen", help="make a new Ed25519 signing key file",
                       description="Write a new Ed25519 private key (PEM, mode 0600). "
                       "Keep it offline; it is never overwritten.")
    p.add_argument("path", type=Path)
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("init", help="create a repository",
                       description="Create a repository: root version 1 naming each "
                       "role's keys (the public halves of --key files) and thresholds, "
                       "and empty targets, signed by the keys given.", epilog=EPILOG)
    p.add_argument("repository", type=Path)
    _keys(p)
    p.add_argument("--threshold", action="append", default=[], metavar="ROLE=N",
                   help="signatures a role needs (default 1), e.g. targets=2")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("build", help="build an image from a directory",
                       description="Build an image (a tar with its manifest first) from "
                       "the files of a directory. The same directory gives the same bytes.")
    p.add_argument("source", type=Path, help="the directory to build from")
    p.add_argument("out", type=Path, help="the image file to write")
    p.add_argument("--model", required=True, help="the device model, e.g. JP5S")
    p.add_argument("--kind", required=True, choices=KINDS)
    p.add_argument("--version", type=int, required=True, help="a whole number that only grows")
    p.add_argument("--min-version", type=int, default=0,
                   help="the oldest installed version this image may replace (default 0)")
    p.add_argument("--label", default="", help="what people see, e.g. 2026.03-r2")
    p.add_argument("--selftest", choices=("pass", "fail"), default="pass",
                   help="the simulated image's self-test after boot (fail: to try a rollback)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("sign", help="add an image, or signatures, to a repository",
                       description="With --image, add the image as a new target and sign "
                       "new targets, snapshot and timestamp with the keys given. Without, "
                       "add the signatures of the keys given to the current metadata (a "
                       "threshold's other holders), then a new snapshot and timestamp when "
                       "their keys are given.", epilog=EPILOG)
    p.add_argument("repository", type=Path)
    p.add_argument("--image", type=Path)
    _keys(p)
    p.set_defaults(func=cmd_sign)

    p = sub.add_parser("publish", help="upload the repository to the central server",
                       description="Upload the metadata (checked there as a device would "
                       "check it) and the images the server does not have yet. Needs an "
                       "agency administrator's session token.")
    p.add_argument("repository", type=Path)
    _server(p, required=True)
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("rotate-keys", help="replace a role's keys in a new root version",
                       description="Write a new root version naming --new-key for --role, "
                       "signed by the root keys given (the old root threshold, and the new "
                       "one when root's keys change); a signing role's metadata is signed "
                       "again with its new keys.", epilog=EPILOG)
    p.add_argument("repository", type=Path)
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--new-key", action="append", type=Path, required=True, metavar="PEM",
                   help="a private key file of the role's new keys (repeatable)")
    p.add_argument("--threshold", type=int, default=1)
    _keys(p)
    p.set_defaults(func=cmd_rotate)

    p = sub.add_parser("status", help="show the repository (and the server's census)",
                       description="Each role's version, expiry and signatures against its "
                       "threshold, and the images; with --server, the version census and "
                       "rollouts the server holds.")
    p.add_argument("repository", type=Path)
    _server(p, required=False)
    p.set_defaults(func=cmd_status)


def _keys(p: argparse.ArgumentParser) -> None:
    p.add_argument("--key", action="append", default=[], metavar="ROLE=PEM",
                   help="a private key file signing for ROLE (repeatable)")


def _server(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument("--server", required=required, help="the central server's URL")
    p.add_argument("--token", required=required,
                   help="a staff session token; write --token=TOKEN, as one may begin with '-'")
    p.add_argument("--ca", type=Path, help="the CA certificate the server's is checked against")


def _signers(pairs: list[str]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = defaultdict(list)
    for pair in pairs:
        role, sep, path = pair.partition("=")
        if not sep or role not in ROLES:
            raise RepositoryError(f"--key is ROLE=PEM with a role of {', '.join(ROLES)}",
                                  observed=pair)
        out[role].append(load_signer(Path(path)))
    return dict(out)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _guarded(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A command that prints a FirmwareError as one line and exits 2."""
    @functools.wraps(func)
    def run(args: argparse.Namespace) -> int:
        try:
            return func(args)
        except FirmwareError as e:
            print(f"sallyport firmware: {e}", file=sys.stderr)
            return 2
    return run


@_guarded
def cmd_keygen(args: argparse.Namespace) -> int:
    signer = generate_key_file(args.path)
    print(f"{args.path}: key id {signer.public_key.keyid}")
    return 0


@_guarded
def cmd_init(args: argparse.Namespace) -> int:
    signers = _signers(args.key)
    thresholds = {}
    for pair in args.threshold:
        role, _, number = pair.partition("=")
        if role not in ROLES or not number.isdigit():
            raise RepositoryError("--threshold is ROLE=N", observed=pair)
        thresholds[role] = int(number)
    keys = {role: [s.public_key for s in role_signers] for role, role_signers in signers.items()}
    Repository.create(args.repository, keys=keys, thresholds=thresholds, signers=signers,
                      now=_now())
    print(f"created {args.repository} (root version 1)")
    return 0


@_guarded
def cmd_build(args: argparse.Namespace) -> int:
    built = build_image(args.source, args.out, Manifest(
        args.model, args.kind, args.version, args.min_version, args.label, args.selftest))
    print(f"{built.path}: {built.manifest.target_name}, {built.length} bytes, "
          f"sha256 {built.sha256}")
    return 0


@_guarded
def cmd_sign(args: argparse.Namespace) -> int:
    repo = Repository(args.repository)
    signers = _signers(args.key)
    if args.image is not None:
        entry = repo.add_image(args.image, signers=signers, now=_now())
        print(f"added {entry.name} ({entry.length} bytes)")
    else:
        for role, role_signers in signers.items():
            repo.sign(role, role_signers)
        if "snapshot" in signers and "timestamp" in signers:
            repo.refresh(signers=signers, now=_now())
    _print_status(repo)
    return 0


@_guarded
def cmd_rotate(args: argparse.Namespace) -> int:
    repo = Repository(args.repository)
    signers = _signers(args.key)
    new = [load_signer(path) for path in args.new_key]
    if args.role != "root":
        signers[args.role] = new
    else:
        signers["root"] = signers.get("root", []) + new
    version = repo.rotate(args.role, [s.public_key for s in new], args.threshold,
                          signers=signers, now=_now())
    print(f"root version {version}: {args.role} now has {len(new)} key(s), "
          f"threshold {args.threshold}")
    _print_status(repo)
    return 0


@_guarded
def cmd_publish(args: argparse.Namespace) -> int:
    repo = Repository(args.repository)
    http = _http(args)
    answer = http.put(f"{args.server}/v1/staff/firmware/metadata",
                      data=repo.bundle(0).to_bytes(),
                      headers={"Content-Type": "application/cbor"}, timeout=60)
    if answer.status_code != 200:
        raise RepositoryError(f"the server refused the metadata: {answer.text[:500]}",
                              status=answer.status_code)
    print(f"published: root version {answer.json()['root_version']}, timestamp version "
          f"{answer.json()['timestamp_version']}")
    held = http.get(f"{args.server}/v1/staff/firmware/images", timeout=60)
    uploaded = {i["sha256"] for i in held.json() if i["uploaded"]} \
        if held.status_code == 200 else set()
    for entry in repo.images():
        if entry.sha256 in uploaded:
            continue
        with repo.image_path(entry.sha256).open("rb") as f:
            answer = http.put(f"{args.server}/v1/staff/firmware/images/{entry.sha256}",
                              data=f, timeout=600)
        if answer.status_code not in (200, 201):
            raise RepositoryError(f"the server refused {entry.name}: {answer.text[:500]}",
                                  status=answer.status_code)
        print(f"uploaded {entry.name} ({entry.length} bytes)")
    return 0


@_guarded
def cmd_status(args: argparse.Namespace) -> int:
    repo = Repository(args.repository)
    _print_status(repo)
    if args.server:
        http = _http(args)
        for path, title in (("census", "census"), ("rollouts", "rollouts")):
            answer = http.get(f"{args.server}/v1/staff/firmware/{path}", timeout=60)
            if answer.status_code != 200:
                raise RepositoryError(f"the server answered {answer.status_code}: "
                                      f"{answer.text[:500]}")
            print(f"{title}:")
            for row in answer.json():
                print("  " + "  ".join(f"{k}={v}" for k, v in row.items()))
    return 0


def _print_status(repo: Repository) -> None:
    status = repo.status()
    now = _now()
    for role in status.roles:
        state = "ok" if role.signed_by >= role.threshold else \
            f"needs {role.threshold - role.signed_by} more signature(s)"
        expiry = "EXPIRED" if role.expires <= now else f"expires {role.expires:%Y-%m-%d %H:%M}Z"
        print(f"{role.role:9} v{role.version:<4} {role.signed_by}/{role.threshold} signed, "
              f"{state}, {expiry}")
    for image in status.images:
        print(f"  {image.name}  {image.length} bytes  min {image.min_version}  "
              f"{image.sha256[:16]}  {image.label}")


def _http(args: argparse.Namespace) -> Any:
    import requests

    session = requests.Session()
    session.trust_env = False
    session.verify = str(args.ca) if args.ca else True
    session.headers["Authorization"] = f"Bearer {args.token}"
    return session
