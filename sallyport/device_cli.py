"""``sallyport device``: the facility's CA, provisioning, and the staff workstation tool."""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "device", help="certificates, provisioning, and inspecting docked tablets",
        description="The facility CA and device identities: make the CA, provision "
        "tablets, issue kiosk and workstation certificates, revoke, and (at a staff "
        "workstation) inspect or release a docked tablet.")
    sub = parser.add_subparsers(dest="device_command", required=True, metavar="COMMAND")

    def ca_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--ca", type=Path, required=True, help="the CA directory")

    p = sub.add_parser("ca-init", help="make the facility CA",
                       description="Make a new facility CA in a directory (keep it offline).")
    ca_arg(p)
    p.add_argument("--facility", required=True, help="the facility's name")
    p.set_defaults(func=cmd_ca_init)

    p = sub.add_parser("provision", help="provision a tablet",
                       description="Make the tablet's key in its secure element (if it has "
                       "none), issue its certificate, install it, and register the tablet.")
    ca_arg(p)
    p.add_argument("--registry", type=Path, required=True, help="the device registry file")
    p.add_argument("--serial", required=True, help="the tablet's serial number")
    p.add_argument("--device-dir", type=Path, required=True,
                   help="the tablet's device directory (secure element, identity, storage)")
    p.add_argument("--agency-key", type=Path,
                   help="the agency's release public key to install (PEM)")
    p.add_argument("--firmware-repository", type=Path,
                   help="the agency's firmware repository (`sallyport firmware init`): its "
                   "root goes on the tablet, with --factory-image in slot A")
    p.add_argument("--factory-image", metavar="TARGET",
                   help="the repository's signed image to install in slot A, marked good "
                   "(e.g. JP5S/tablet-1.img)")
    p.add_argument("--owner", help="assign it to this resident ID at once")
    p.add_argument("--owner-name", default="", help="the resident's name")
    p.set_defaults(func=cmd_provision)

    p = sub.add_parser("issue", help="issue a kiosk, staff workstation or server certificate",
                       description="Make a key and certificate for a kiosk, a staff "
                       "workstation or the central server, in an output directory.")
    ca_arg(p)
    p.add_argument("--role", choices=["kiosk", "staff-workstation", "central-server"],
                   required=True)
    p.add_argument("--name", required=True, help="e.g. the kiosk's location code")
    p.add_argument("--host", action="append", default=[],
                   help="for the central server: a host name or IP address it answers on "
                   "(repeat for several)")
    p.add_argument("--out", type=Path, required=True, help="where its key and identity go")
    p.set_defaults(func=cmd_issue)

    p = sub.add_parser("assign", help="assign a registered tablet to a resident",
                       description="Assign a tablet to a resident (or reassign it).")
    p.add_argument("--registry", type=Path, required=True)
    p.add_argument("--serial", required=True)
    p.add_argument("--owner", required=True, help="the resident's agency ID")
    p.add_argument("--owner-name", required=True)
    p.set_defaults(func=cmd_assign)

    p = sub.add_parser("status", help="mark a tablet lost, retired, released or active",
                       description="Change a tablet's status in the registry.")
    p.add_argument("--registry", type=Path, required=True)
    p.add_argument("--serial", required=True)
    p.add_argument("status", choices=["active", "lost", "released", "retired"])
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("revoke", help="revoke a certificate",
                       description="Revoke the certificate issued for a tablet serial (or by "
                       "certificate serial number) and publish a new revocation list.")
    ca_arg(p)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--serial", help="the tablet serial whose certificates to revoke")
    group.add_argument("--name", help="the kiosk or workstation name whose certificates to "
                       "revoke")
    group.add_argument("--certificate-serial", type=int)
    p.set_defaults(func=cmd_revoke)

    p = sub.add_parser("crl", help="publish a fresh revocation list",
                       description="Sign the revocation list again with a new CRL number and "
                       "next-update time, and copy it to the central server's `crl` file. "
                       "Kiosks refuse to dock once their list is past its next-update time, "
                       "so run this more often than --days (say, daily from cron).")
    ca_arg(p)
    p.add_argument("--days", type=int, default=7, choices=range(1, 31), metavar="1-30",
                   help="days until the next update is due (default 7)")
    p.set_defaults(func=cmd_crl)

    p = sub.add_parser("agency-key", help="make the agency's release-token key",
                       description="Make an Ed25519 key pair for signing release tokens.")
    p.add_argument("--out", type=Path, required=True, help="directory for the key pair")
    p.set_defaults(func=cmd_agency_key)

    p = sub.add_parser("release-token", help="sign a release token for one tablet",
                       description="Print a one-time release token naming a tablet serial.")
    p.add_argument("--agency-key", type=Path, required=True, help="the private key (PEM)")
    p.add_argument("--serial", required=True)
    p.add_argument("--agency", required=True, help="the agency's name")
    p.add_argument("--days", type=int, default=30, help="valid for this many days")
    p.set_defaults(func=cmd_release_token)

    p = sub.add_parser("inspect", help="list and export a docked tablet's content",
                       description="At a staff workstation: connect to a docked tablet "
                       "with the workstation's certificate, list its content, and export it "
                       "(for an investigation or the property room).")
    p.add_argument("--link", required=True,
                   help="the tablet's link address, e.g. serial:///dev/ttyACM0 or sim://tablet/T1")
    p.add_argument("--credentials", type=Path, required=True,
                   help="the workstation's directory (from `device issue`)")
    p.add_argument("--export", type=Path, help="write every item here, with a manifest")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("release", help="present a release token to a docked tablet",
                       description="Unlock a released resident's tablet for good with a "
                       "release token (no facility certificate needed).")
    p.add_argument("--link", required=True, help="the tablet's link address")
    p.add_argument("--ca", type=Path, required=True, help="the facility CA certificate (PEM)")
    p.add_argument("--token", required=True, help="the token text")
    p.set_defaults(func=cmd_release)


def cmd_ca_init(args: argparse.Namespace) -> int:
    from device_security.ca_store import CertificateAuthority
    from device_security.pki import fingerprint

    ca = CertificateAuthority.create(args.ca, args.facility, now=now())
    print(f"made the CA for {args.facility} in {args.ca}")
    print(f"CA certificate fingerprint (SHA-256): {fingerprint(ca.certificate)}")
    return 0


def cmd_provision(args: argparse.Namespace) -> int:
    from base.files import write_atomic
    from device_security.ca_store import CertificateAuthority, IdentityFiles
    from device_security.pki import Role, fingerprint
    from device_security.registry import Registry, RegistryEntry, TabletStatus
    from device_security.secure_element import KeyFileSecureElement

    if (args.firmware_repository is None) != (args.factory_image is None):
        print("sallyport device: --firmware-repository and --factory-image go together",
              file=sys.stderr)
        return 2
    ca = CertificateAuthority.open(args.ca)
    registry = Registry(args.registry)
    if registry.get(args.serial) is not None:
        print(f"sallyport device: {args.serial} is registered already; revoke and retire it "
              "before provisioning again", file=sys.stderr)
        return 2
    firmware = None
    if args.firmware_repository is not None:
        from firmware_images.device import FirmwareDevice
        from firmware_images.errors import FirmwareError
        from firmware_images.repository import Repository
        from tablet.device import TabletDirectory

        try:  # first: a tablet whose firmware cannot be given is not registered either
            firmware = FirmwareDevice.provision_from(
                TabletDirectory(args.device_dir).firmware_path,
                Repository(args.firmware_repository), args.factory_image)
        except FirmwareError as e:
            print(f"sallyport device: no firmware slots made: {e}", file=sys.stderr)
            return 2
    args.device_dir.mkdir(parents=True, exist_ok=True)
    element = KeyFileSecureElement(args.device_dir / "secure-element.pem")
    made = not element.exists()
    if made:
        element.generate()
    cert = ca.issue(element.public_key(), role=Role.TABLET, name=f"tablet {args.serial}",
                    serial=args.serial, now=now())
    IdentityFiles(args.device_dir / "identity").install(cert, ca.certificate)
    if args.agency_key:
        write_atomic(args.device_dir / "agency.pem", args.agency_key.read_bytes())
    registry.add(RegistryEntry(args.serial, TabletStatus.ACTIVE,
                               certificate_fingerprint=fingerprint(cert)))
    if args.owner:
        registry.assign(args.serial, args.owner, args.owner_name)
    print(f"provisioned tablet {args.serial}:")
    print(f"  device key      {'made in' if made else 'already in'} its secure element")
    print(f"  certificate     {cert.serial_number} (SHA-256 {fingerprint(cert)[:16]}...)")
    print(f"  installed in    {args.device_dir / 'identity'}")
    if firmware is not None:
        report = firmware.report()
        print(f"  firmware        {args.factory_image} (version {report.version}) in slot "
              f"{report.slot}, good; root version {report.root_version}")
    else:
        print("  firmware        none (no --firmware-repository): it takes no image at a dock")
    print(f"  registry        {args.registry}: active, "
          f"{'assigned to ' + args.owner if args.owner else 'not assigned yet'}")
    return 0


def cmd_issue(args: argparse.Namespace) -> int:
    from device_security.ca_store import CertificateAuthority, IdentityFiles
    from device_security.pki import Role, fingerprint
    from device_security.secure_element import KeyFileSecureElement

    ca = CertificateAuthority.open(args.ca)
    args.out.mkdir(parents=True, exist_ok=True)
    element = KeyFileSecureElement(args.out / "key.pem")
    if not element.exists():
        element.generate()
    try:
        cert = ca.issue(element.public_key(), role=Role(args.role), name=args.name, now=now(),
                        hosts=args.host)
    except ValueError as e:
        print(f"sallyport device issue: {e}", file=sys.stderr)
        return 2
    IdentityFiles(args.out / "identity").install(cert, ca.certificate)
    print(f"issued a {args.role} certificate for {args.name} into {args.out} "
          f"(SHA-256 {fingerprint(cert)[:16]}...)")
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    from device_security.registry import Registry

    Registry(args.registry).assign(args.serial, args.owner, args.owner_name)
    print(f"{args.serial} is assigned to {args.owner_name} ({args.owner})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from device_security.registry import Registry, TabletStatus

    Registry(args.registry).set_status(args.serial, TabletStatus(args.status))
    print(f"{args.serial} is now {args.status}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    from device_security.ca_store import CertificateAuthority

    ca = CertificateAuthority.open(args.ca)
    if args.certificate_serial is not None:
        serials = [args.certificate_serial]
    elif args.name is not None:
        serials = [i["certificate_serial"] for i in ca.issued()
                   if i["name"] == args.name and i["serial"] is None]
    else:
        serials = [i["certificate_serial"] for i in ca.issued() if i["serial"] == args.serial]
    if not serials:
        print(f"sallyport device: no certificate was issued for {args.serial or args.name}",
              file=sys.stderr)
        return 2
    for number in serials:
        ca.revoke(number, now=now())
        print(f"revoked certificate {number}")
    print(f"published a new revocation list: {args.ca / 'crl.pem'}")
    return 0


def cmd_crl(args: argparse.Namespace) -> int:
    from device_security.ca_store import CertificateAuthority
    from device_security.revocation import crl_number

    crl = CertificateAuthority.open(args.ca).publish_crl(now=now(), next_update_days=args.days)
    print(f"published revocation list {crl_number(crl)} ({len(crl)} revoked, next update "
          f"{crl.next_update_utc:%Y-%m-%d %H:%M} UTC): {args.ca / 'crl.pem'}")
    return 0


def cmd_agency_key(args: argparse.Namespace) -> int:
    from base.files import write_atomic
    from device_security.pki import private_key_pem

    args.out.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    write_atomic(args.out / "agency-release-key.pem", private_key_pem(key), mode=0o600)
    write_atomic(args.out / "agency-release.pub.pem", key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    print(f"wrote agency-release-key.pem (keep it secret) and agency-release.pub.pem "
          f"(install on tablets) in {args.out}")
    return 0


def cmd_release_token(args: argparse.Namespace) -> int:
    from device_security.release import make_release_token, token_text

    key = serialization.load_pem_private_key(args.agency_key.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        print("sallyport device: the agency key is not Ed25519", file=sys.stderr)
        return 2
    print(token_text(make_release_token(key, serial=args.serial, agency=args.agency, now=now(),
                                        valid_days=args.days)))
    return 0


def _connect(link_address: str, credentials: Any, ca: Any) -> tuple[Any, Any]:
    from device_security.channel import SecureChannel, make_context
    from hw.serial_link import open_link

    link = open_link(link_address)
    try:
        context = make_context("connect", credentials, ca)
        return link, SecureChannel.connect(link, context, timeout=10)
    except BaseException:
        link.close()
        raise


def cmd_inspect(args: argparse.Namespace) -> int:
    from base.files import write_atomic
    from device_security import messages
    from device_security.ca_store import IdentityFiles
    from device_security.channel import Credentials
    from device_security.errors import SecurityError
    from device_security.messages import (
        ExportAsk,
        Exported,
        InspectDone,
        InspectHello,
        InventoryAsk,
        Items,
    )
    from device_security.pki import Role, TrustAnchors, check_certificate

    identity = IdentityFiles(args.credentials / "identity")
    ca = identity.ca()
    credentials = Credentials(identity.certificate_path, args.credentials / "key.pem")
    link, channel = _connect(args.link, credentials, ca)
    try:
        if channel.peer_certificate is None:
            raise SecurityError("the tablet showed no certificate")
        peer = check_certificate(channel.peer_certificate, TrustAnchors(ca), now=now(),
                                 expected_roles=[Role.TABLET])
        messages.receive(channel, 10, InspectHello, max_size=512)
        print(f"tablet {peer.serial} (inspect mode)")
        messages.send(channel, InventoryAsk())
        items = messages.receive(channel, 30, Items).labels
        print(f"{len(items)} items")
        manifest = []
        if args.export:
            args.export.mkdir(parents=True, exist_ok=True)
        for label in items:
            print(f"  {label}")
            if args.export:
                messages.send(channel, ExportAsk(label))
                data = messages.receive(channel, 60, Exported).data
                if data is None:
                    print("    (gone from the tablet since it was listed)")
                    continue
                name = hashlib.sha256(label.encode()).hexdigest()[:16]
                write_atomic(args.export / name, data)
                manifest.append({"label": label, "file": name, "bytes": len(data),
                                 "sha256": hashlib.sha256(data).hexdigest()})
        messages.send(channel, InspectDone())
        if args.export:
            write_atomic(args.export / "manifest.json", json.dumps(
                {"tablet": peer.serial, "exported_at": now().isoformat(),
                 "exported_by": os.environ.get("USER", "unknown"), "items": manifest},
                indent=2).encode())
            print(f"exported {len(manifest)} items to {args.export} (manifest.json lists them "
                  "with their SHA-256)")
    finally:
        channel.close()
        link.close()
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    from cryptography import x509

    from device_security import messages
    from device_security.messages import Refused, ReleaseAsk, Released
    from device_security.release import token_from_text

    ca = x509.load_pem_x509_certificate(args.ca.read_bytes())
    link, channel = _connect(args.link, None, ca)
    try:
        messages.send(channel, ReleaseAsk(token_from_text(args.token)))
        reply = messages.receive(channel, 10, Released, Refused, max_size=512)
    finally:
        channel.close()
        link.close()
    if isinstance(reply, Released):
        print(f"the tablet {reply.serial} is released")
        return 0
    print(f"sallyport device: the tablet refused the token ({reply.reason})", file=sys.stderr)
    return 1


