"""``switch_xml_locate_user_merged`` (src/switch_xml.c, v1.10.12) as the emulator's modules call it.

The request goes to the mod_xml_curl binding of the ``directory`` section (``directory_url``) as
``section=directory&tag_name=domain&key_name=name&key_value=<domain>`` + the caller's params +
``key``, ``user``, ``domain`` (+ ``ip``), only the ``enable-post-var`` names when the binding has
them (``post_vars``).  A "not found" answer, an HTTP error or a document
without that domain falls back to the static configuration (``static``, FreeSWITCH's own
``directory`` section), as ``switch_xml_locate`` does.  A user with a ``cacheable`` attribute is
kept (merged) for that many milliseconds, or for ever without a number, under
key + user + domain (``switch_xml_user_cache``), and later lookups do not fetch.
"""
from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .xml_curl import DirectoryUser, XmlCurlClient, XmlCurlResponse, locate_user

if TYPE_CHECKING:
    from .core import Switch

__all__ = ["Directory", "DirectoryRequest"]

log = logging.getLogger("fsemu")


@dataclass
class DirectoryRequest:
    """One lookup as it went out (for tests): the kind of request, the ordered params, the
    raw body posted (None without a binding) and the answer."""

    kind: str | None
    params: list[tuple[str, str]]
    body: bytes | None
    response: XmlCurlResponse | None
    user: DirectoryUser | None


class Directory:
    def __init__(self, switch: "Switch", url: str | None = None, static: str | ET.Element | None = None,
                 basic_auth: tuple[str, str] | None = None, post_vars: tuple[str, ...] | None = None) -> None:
        self.switch = switch
        self.post_vars = post_vars
        self.url = url
        self.static = ET.fromstring(static) if isinstance(static, str) else static
        self.basic_auth = basic_auth
        self.requests: list[DirectoryRequest] = []
        self._cache: dict[str, tuple[DirectoryUser, int]] = {}   # mega_key -> (user, expires us; 0 = never)

    @property
    def configured(self) -> bool:
        return self.url is not None or self.static is not None

    def clear_cache(self) -> None:
        """``xml_flush_cache`` / switch_xml_clear_user_cache with no arguments."""
        self._cache.clear()

    async def locate_user_merged(self, key: str, user: str, domain: str, ip: str | None,
                                 params: list[tuple[str, str]], *, kind: str | None) -> DirectoryUser | None:
        """``params`` are the caller's (REQUEST_PARAMS) headers; ``kind`` names the captured
        request whose Event-Calling-* headers this lookup carries (``sip_auth``, ``user_call``)."""
        mega_key = f"{key}{user}{domain}"
        cached = self._cache.get(mega_key)
        now = self.switch.clock()
        if cached is not None and (cached[1] == 0 or cached[1] >= now):
            return cached[0]
        full = list(params) + [("key", key), ("user", user), ("domain", domain)]
        if ip:
            full.append(("ip", ip))
        body: bytes | None = None
        response: XmlCurlResponse | None = None
        found: DirectoryUser | None = None
        if self.url:
            client = XmlCurlClient(self.url, hostname=self.switch.core.hostname, core=self.switch.core,
                                   clock=self.switch.clock, basic_auth=self.basic_auth, sequence=self.switch.seq.next)
            body = client.request_body(kind, domain, [(k, v) for k, v in full], post_vars=self.post_vars)
            response = await client.post(body)
            if not response.not_found and response.xml is not None:
                found = locate_user(response.xml, key, user, domain, ip, _user_type(full))
        else:
            self.switch.seq.skip(1)  # the REQUEST_PARAMS event is created all the same
        if found is None and self.static is not None:
            found = locate_user(self.static, key, user, domain, ip, _user_type(full))
        self.requests.append(DirectoryRequest(kind, full, body, response, found))
        if found is None:
            return None
        cacheable = found.attributes.get("cacheable")
        if cacheable:
            expires = now + int(cacheable) * 1000 if cacheable.isdigit() else 0
            self._cache[mega_key] = (found, expires)
        return found


def _user_type(params: list[tuple[str, str]]) -> str | None:
    for k, v in params:
        if k.lower() == "user_type":
            return v
    return None
