"""``hibiki audit verify --recording --tenant T`` and ``hibiki audit export --recording --tenant T``:
the recording service's access trail (who searched, played, downloaded, deleted which recording).

Through the running recording service's API (``GET /api/v1/tenants/{tenant}/recording-audit/verify``,
``.../recording-audit`` and ``.../recording-audit.csv``), not the index itself: the embedded index
(chdb) is held by the service while it runs, and only the service walks every writer's chain the
same way for the API, the page and this command. The command signs a short-lived token with the
stack's auth secret (as ``hibiki token`` does) for an ``auditor`` of that tenant, the role the
recording service's role rule lets read the trail, and nothing else. The service is found at
``--url``, else ``http://127.0.0.1:$HIBIKI_RECORDING_PORT`` (default port 8082). Exit 0 when the
trail is intact, 1 when a row was altered or removed (the problems printed), 2 when the service
cannot be asked or refuses.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import httpx

from hibiki.common.auth import Claims, load_authority
from hibiki.common.config import Env, data_dir

SUBJECT = "hibiki-audit-cli"
TOKEN_TTL = 300


def _base(args: argparse.Namespace) -> str:
    if args.url:
        return str(args.url).rstrip("/")
    port = os.environ.get("HIBIKI_RECORDING_PORT", "8082")
    return f"http://127.0.0.1:{port}"


def _client(args: argparse.Namespace) -> httpx.Client:
    authority = load_authority(Env.load(), data_dir(Env.load()))
    token = authority.issue(Claims(SUBJECT, "user", args.tenant, ("auditor",)), TOKEN_TTL)
    return httpx.Client(base_url=f"{_base(args)}/api/v1/tenants/{args.tenant}",
                        headers={"Authorization": f"Bearer {token}"}, timeout=120)


def _refused(answer: httpx.Response) -> int:
    try:
        body = answer.json()
        reason = f"{body.get('error_id', '')}: {body.get('message', '')}"
    except ValueError:
        reason = answer.text[:200]
    print(f"hibiki audit: error: the recording service answered {answer.status_code} ({reason})", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    if not args.tenant or args.tenant == "*":
        print("hibiki audit: error: --recording needs --tenant (one tenant's trail)", file=sys.stderr)
        return 2
    try:
        with _client(args) as client:
            if args.action == "verify":
                answer = client.get("/recording-audit/verify")
                if answer.status_code != 200:
                    return _refused(answer)
                result = answer.json()
                print(json.dumps({"tenant": args.tenant, **result}, ensure_ascii=False))
                return 0 if result.get("intact") else 1
            answer = client.get("/recording-audit.csv" if args.format == "csv" else "/recording-audit")
            if answer.status_code != 200:
                return _refused(answer)
            if args.format == "csv":
                sys.stdout.write(answer.content.decode("utf-8-sig"))
            else:
                sys.stdout.write(json.dumps(answer.json()["entries"], ensure_ascii=False, indent=1) + "\n")
            return 0
    except httpx.HTTPError as exc:
        print(f"hibiki audit: error: the recording service at {_base(args)} cannot be asked: {exc}", file=sys.stderr)
        return 2
