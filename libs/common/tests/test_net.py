from __future__ import annotations

import ipaddress
import socket

import pytest

from hibiki.common.errors import StartupError
from hibiki.common.net import AllowList, bind_tcp


def test_allow_list_by_network_with_ipv4_mapped_addresses() -> None:
    allow = AllowList([ipaddress.ip_network("10.10.0.0/16"), ipaddress.ip_network("::1/128")])
    assert "10.10.3.4" in allow and "::ffff:10.10.3.4" in allow and "::1" in allow
    assert "10.11.0.1" not in allow and "127.0.0.1" not in allow
    assert "not-an-address" not in allow and "" not in allow


def test_bound_sockets_are_tcp_so_asyncio_sets_nodelay() -> None:
    sock = bind_tcp("127.0.0.1", 0, "test")
    try:
        assert sock.proto == socket.IPPROTO_TCP
        with pytest.raises(StartupError, match=r"test: cannot listen on 127.0.0.1:\d+: address already in use"):
            bind_tcp("127.0.0.1", sock.getsockname()[1], "test")
    finally:
        sock.close()
