"""The lifecycle subcommands of ``hibiki``: backup, restore, tenant export, tenant delete."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from hibiki.common.auth import load_authority
from hibiki.common.config import Env
from hibiki.common.errors import HibikiError
from hibiki.directory.lifecycle import export
from hibiki.stack.lifecycle import backup, certificate, deletion, restore
from hibiki.directory.lifecycle.platform import Platform
from hibiki.directory.lifecycle.settings import Settings


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sub.add_parser("backup", help="take, verify and keep a generation of the configuration and analytics stores")
    rest = sub.add_parser("restore", help="restore a generation; the directory up to a moment (stop it first)")
    rest.add_argument("--generation", help="the generation's folder name (default: the newest before --until)")
    rest.add_argument("--until", type=datetime.fromisoformat,
                      help="replay the directory's changes up to this moment (ISO 8601 with offset)")
    rest.add_argument("--only", default=",".join(restore.PARTS), help="directory,acd,analytics (default: all)")
    tenant = sub.add_parser("tenant", help="a tenant's export or deletion at contract end")
    verbs = tenant.add_subparsers(dest="verb", required=True)
    exp = verbs.add_parser("export", help="every store's data of a tenant in generic formats, with a manifest")
    exp.add_argument("tenant")
    exp.add_argument("--out", type=Path, default=Path("."), help="folder the export is written under")
    rm = verbs.add_parser("delete", help="delete a tenant in every store, verify, write a signed certificate")
    rm.add_argument("tenant")
    rm.add_argument("--confirm", required=True, help="the tenant id again")
    rm.add_argument("--by", required=True, help="who orders the deletion (recorded in the certificate)")
    rm.add_argument("--certificate", type=Path, help="where to write it (default: ./<tenant>-deletion.json)")
    check = verbs.add_parser("verify-certificate", help="check a deletion certificate's signature")
    check.add_argument("certificate", type=Path)
    check.add_argument("--public-key", help="the signer's public key (base64; default: this platform's own)")


def _verify(args: argparse.Namespace) -> int:
    try:
        signed = json.loads(args.certificate.read_text())
    except (OSError, ValueError) as exc:
        print(f"hibiki tenant verify-certificate: error: {args.certificate}: {exc}", file=sys.stderr)
        return 2
    key = args.public_key or certificate.public_key_text(
        certificate.signing_key(Settings.from_env().data_dir).public_key())
    if isinstance(signed, dict) and certificate.verify(signed, key):
        print(f"valid: tenant {signed.get('tenant')} deleted, verified at {signed.get('verified_at')}, "
              f"by {signed.get('deleted_by')}")
        return 0
    print(f"INVALID: {args.certificate} is not signed by {key} or was changed", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    name = f"hibiki {args.command}" + (f" {args.verb}" if args.command == "tenant" else "")
    if args.command == "tenant" and args.verb == "verify-certificate":
        return _verify(args)
    try:
        settings = Settings.from_env()
        platform = Platform(settings, load_authority(Env.load(), settings.data_dir))
        try:
            if args.command == "backup":
                done = backup.take(platform)
                print(json.dumps({"generation": str(done), **{k: v for k, v in json.loads(
                    (done / "manifest.json").read_text()).items() if k != "files"}}, ensure_ascii=False))
            elif args.command == "restore":
                parts = tuple(p for p in args.only.split(",") if p)
                if not set(parts) <= set(restore.PARTS):
                    print(f"{name}: error: --only takes {','.join(restore.PARTS)}", file=sys.stderr)
                    return 2
                generation = restore.pick(settings.backup_dir, args.generation, args.until)
                print(json.dumps(restore.restore(platform, generation, args.until, parts), ensure_ascii=False))
            elif args.verb == "export":
                print(export.export(platform, args.tenant, args.out))
            else:
                if args.confirm != args.tenant:
                    print(f"{name}: error: --confirm must repeat the tenant id", file=sys.stderr)
                    return 2
                nats_url = Env.load().text("NATS_URL", "nats://127.0.0.1:4222")
                signed = deletion.delete(platform, args.tenant, args.by, nats_url)
                target = args.certificate or Path(f"{args.tenant}-deletion.json")
                target.write_text(json.dumps(signed, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
                print(target)
        finally:
            platform.close()
    except HibikiError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 1
    return 0
