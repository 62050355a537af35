"""Issue 10, item 15, replayed: uvicorn believed ``X-Forwarded-For`` from 127.0.0.1 (its default), so
any local process could pass for another client address, e.g. one on /fsapi's allow-list. Proxy
headers are now off unless ``HIBIKI_HTTP_TRUSTED_PROXIES`` names the proxies (addresses or CIDRs).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import httpx
import pytest

from hibiki.directory.app import main
from support.directory import directory_config, fsapi_url
from support.servers import running

FREESWITCH_NET = ipaddress.ip_network("192.0.2.0/24")   # the only network allowed to use /fsapi


async def forged(url: str) -> list[int]:
    statuses = []
    async with httpx.AsyncClient() as client:
        for n in range(10):
            reply = await client.post(url, content=b"section=directory&user=1000&domain=x",
                                      headers={"X-Forwarded-For": f"192.0.2.{n + 1}", "X-Forwarded-Proto": "https",
                                               "Content-Type": "application/x-www-form-urlencoded"})
            statuses.append(reply.status_code)
    return statuses


async def test_x_forwarded_for_is_ignored_unless_configured(tmp_path: Path, nats_server: Any, authority: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HIBIKI_HTTP_TRUSTED_PROXIES", raising=False)
    config = directory_config(tmp_path, nats_server, fsapi_allow=(FREESWITCH_NET,))
    async with running(main, config):
        statuses = await forged(fsapi_url(config))
    let_in = sum(s != 403 for s in statuses)
    print(f"\nrequests let in by a forged X-Forwarded-For: {let_in} of {len(statuses)}")
    assert let_in == 0
    # configured: a reverse proxy on 127.0.0.1 is believed (the test can fail)
    monkeypatch.setenv("HIBIKI_HTTP_TRUSTED_PROXIES", "127.0.0.1/32")
    config = directory_config(tmp_path, nats_server, fsapi_allow=(FREESWITCH_NET,))
    async with running(main, config):
        assert set(await forged(fsapi_url(config))) == {200}
