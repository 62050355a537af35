"""The ``hibiki`` command: ``serve``, ``up``, ``token``, ``operator create``, ``audit verify|export``, ``backup``,
``restore`` and ``tenant``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from hibiki.common.auth import Claims, load_authority
from hibiki.common.config import Env, data_dir
from hibiki.common.errors import HibikiError
from hibiki.common.runner import run_service
from hibiki.stack.lifecycle import commands as lifecycle
from hibiki.stack.services import SERVICES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hibiki", description="Hibiki cloud PBX and contact center")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start one service on embedded defaults")
    serve.add_argument("service", choices=sorted(SERVICES))
    serve.add_argument("--port", type=int, help="HTTP port (default: the service's own)")
    up = sub.add_parser("up", help="start the whole stack on this machine")
    up.add_argument("--data-dir", type=Path, help="where the stack keeps its data (default ./var)")
    token = sub.add_parser("token", help="print a bearer token signed with the stack's secret")
    who = token.add_mutually_exclusive_group(required=True)
    who.add_argument("--service", help="a service-to-service token for this service name")
    who.add_argument("--user", help="a user token for this user")
    token.add_argument("--tenant", default="*", help="tenant the token is scoped to (default: all)")
    token.add_argument("--role", action="append", default=[], help="role (repeatable)")
    token.add_argument("--ttl", type=int, default=3600, help="seconds the token is valid")
    from hibiki.stack import identity_cli

    identity_cli.add_parsers(sub)
    lifecycle.add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        spec = SERVICES[args.service]
        if args.port is not None:
            if not 0 <= args.port <= 65535:
                print(f"hibiki {spec.name}: error: --port {args.port} is not a TCP port", file=sys.stderr)
                return 2
            os.environ[spec.port_var] = str(args.port)
        return run_service(spec.name, lambda stop: spec.main()(stop))
    if args.command == "up":
        from hibiki.stack.supervisor import up

        return up(args.data_dir.resolve() if args.data_dir else None)
    if args.command in ("operator", "audit"):
        from hibiki.stack import identity_cli

        try:
            return identity_cli.run(args)
        except HibikiError as exc:
            print(f"hibiki {args.command}: error: {exc}", file=sys.stderr)
            return 2
    if args.command in ("backup", "restore", "tenant"):
        return lifecycle.run(args)
    try:
        authority = load_authority(Env.load(), data_dir())
    except HibikiError as exc:
        print(f"hibiki token: error: {exc}", file=sys.stderr)
        return 2
    claims = Claims(args.service or args.user, "service" if args.service else "user", args.tenant, tuple(args.role))
    print(authority.issue(claims, args.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
