"""``hibiki operator create`` (the first platform operator) and ``hibiki audit verify|export``
(``--recording``: the recording service's trail, :mod:`hibiki.stack.recording_audit_cli`).

Both work on the directory's store directly (``HIBIKI_DIRECTORY_DATABASE_URL``, default
``<data dir>/directory.sqlite``), migrated first, so they work before the first ``hibiki up``.
The password comes from ``--password-file``, else ``HIBIKI_OPERATOR_PASSWORD``, else a prompt;
it must pass the password rules. The audit chain key derives from the stack's auth secret.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from hibiki.common import roles
from hibiki.common.auth import load_authority
from hibiki.common.config import Env, data_dir
from hibiki.directory.identity import passwords
from hibiki.directory.storage.audit import AuditTrail, Entry, to_csv
from hibiki.directory.storage.database import open_store
from hibiki.directory.storage.identity import IdentityStore


def add_parsers(sub: Any) -> None:
    operator = sub.add_parser("operator", help="console platform operators")
    op_sub = operator.add_subparsers(dest="action", required=True)
    create = op_sub.add_parser("create", help="create a platform operator (tenant '*') in the directory's store")
    create.add_argument("--login", required=True)
    create.add_argument("--display-name", default="")
    create.add_argument("--password-file", type=Path, help="read the password from this file (else "
                        "HIBIKI_OPERATOR_PASSWORD, else a prompt)")
    audit = sub.add_parser("audit", help="the audit trail: verify its hash chain, export it")
    a_sub = audit.add_subparsers(dest="action", required=True)
    verify = a_sub.add_parser("verify", help="verify the hash chain of one tenant (or all); exit 1 if broken")
    verify.add_argument("--tenant", help="a tenant id ('*': the platform); default every tenant")
    export = a_sub.add_parser("export", help="print one tenant's audit trail")
    export.add_argument("--tenant", required=True)
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    for command in (verify, export):   # the recording service's access trail instead (recording_audit_cli)
        command.add_argument("--recording", action="store_true",
                             help="the recordings' access trail, through the running recording service")
        command.add_argument("--url", help="the recording service (default http://127.0.0.1:$HIBIKI_RECORDING_PORT)")


def _store_url() -> str:
    env = Env.load("directory")
    return env.text("DATABASE_URL", f"sqlite:///{data_dir(Env.load()) / 'directory.sqlite'}")


def _trail() -> AuditTrail:
    authority = load_authority(Env.load(), data_dir(Env.load()))
    return AuditTrail(open_store(_store_url()), authority.derive_key("audit-chain"))


def _password(args: argparse.Namespace) -> str:
    if args.password_file:
        return str(args.password_file.read_text(encoding="utf-8").rstrip("\n"))
    if os.environ.get("HIBIKI_OPERATOR_PASSWORD"):
        return os.environ["HIBIKI_OPERATOR_PASSWORD"]
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def run(args: argparse.Namespace) -> int:
    if args.command == "operator":
        return create_operator(args)
    if args.recording:
        from hibiki.stack import recording_audit_cli

        return recording_audit_cli.run(args)
    if args.action == "verify":
        trail = _trail()
        tenants = [args.tenant] if args.tenant else trail.tenants()
        broken = 0
        for tenant in tenants:
            result = trail.verify(tenant)
            broken += 0 if result["intact"] else 1
            print(json.dumps(result, ensure_ascii=False))
        return 1 if broken else 0
    rows = _trail().entries(args.tenant)
    sys.stdout.write(to_csv(rows) if args.format == "csv" else json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
    return 0


def create_operator(args: argparse.Namespace) -> int:
    login = args.login.strip().lower()
    try:
        password = _password(args)
    except (ValueError, OSError) as exc:
        print(f"hibiki operator: error: {exc}", file=sys.stderr)
        return 2
    found = passwords.problems(password, login, 12)
    if found:
        print(f"hibiki operator: error: the password: {'; '.join(found)}", file=sys.stderr)
        return 2
    trail = _trail()
    store = IdentityStore(trail.engine)
    if store.find("*", login):
        print(f"hibiki operator: error: a platform operator {login!r} exists", file=sys.stderr)
        return 1
    row = store.create("*", login, passwords.hash_password(password), [roles.PLATFORM_OPERATOR], [],
                       args.display_name)
    trail.append(Entry("*", "hibiki operator create", "console_user.create", "console_user", row["id"],
                       ["platform-operator"], None, {"login": login, "roles": [roles.PLATFORM_OPERATOR]}, "cli"))
    print(f"platform operator {login!r} created: log in at /login with tenant '*'")
    return 0
