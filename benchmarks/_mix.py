"""The request mix: what a FreeSWITCH node asks the directory for a PBX of many tenants.

Each request is the exact HTTP request mod_xml_curl sends (bodies rebuilt by the emulator's
:class:`XmlCurlClient` from captures of FreeSWITCH 1.10.12), for random existing users:

- ``sip_auth``: a REGISTER with a correct digest (qop=auth) from the phone's own address;
- ``user_call``: ``bridge user/<ext>@<domain>``;
- ``internal``: a dialplan fetch for a call from one extension to another of the same tenant;
- ``did``: an inbound call from the carrier to a tenant's number (context ``public``);
- ``outbound``: a user dialling a national number (fixed line or mobile).
"""

from __future__ import annotations

import functools
import random
import sys
import uuid
from pathlib import Path

from benchmarks._store import BenchUser

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fsemu.post_vars import filter_body, whitelist  # noqa: E402
from fsemu.xml_curl import XmlCurlClient, digest_response  # noqa: E402

__all__ = ["MIX", "XmlCurlClient", "build"]
XML_CURL_CONF = Path(__file__).resolve().parents[1] / "freeswitch" / "conf" / "autoload_configs" / "xml_curl.conf.xml"
MIX = (("sip_auth", 40), ("user_call", 20), ("internal", 20), ("did", 10), ("outbound", 10))


class _Client(XmlCurlClient):
    template = staticmethod(functools.cache(XmlCurlClient.template))  # read each capture once


def _address(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255 or 1}"


def _sip_auth(client: XmlCurlClient, rnd: random.Random, u: BenchUser, i: int) -> bytes:
    nonce, cnonce, uri = str(uuid.UUID(int=rnd.getrandbits(128))), f"{rnd.getrandbits(64):016x}", f"sip:{u.domain}"
    response = digest_response(u.a1_hash, "REGISTER", uri, nonce, qop="auth", nc="00000001", cnonce=cnonce)
    return client.directory_body(
        user=u.sip_username, domain=u.domain, action="sip_auth", ip=_address(i), sip_auth_nonce=nonce,
        sip_auth_cnonce=cnonce, sip_auth_uri=uri, sip_auth_nc="00000001", sip_auth_qop="auth",
        sip_auth_response=response, sip_auth_method="REGISTER", sip_contact_user=f"{u.sip_username}-{i:x}",
        sip_contact_host=_address(i), sip_request_host=u.domain, sip_call_id=f"{rnd.getrandbits(64):x}")


def _call(client: XmlCurlClient, caller: BenchUser, destination: str) -> bytes:
    return client.dialplan_body(
        destination_number=destination, caller_id_number=caller.extension, context="default",
        Caller__Username=caller.sip_username, variable_sip_from_user=caller.sip_username,
        variable_sip_from_host=caller.domain, variable_hibiki_tenant=caller.tenant, variable_hibiki_user=caller.user_id,
        Unique__ID=str(uuid.uuid4()))


def _did(client: XmlCurlClient, rnd: random.Random, tenant_numbers: list[str]) -> bytes:
    return client.dialplan_body(
        destination_number=rnd.choice(tenant_numbers), caller_id_number=f"090{rnd.randrange(10**8):08d}",
        context="public", variable_sip_authorized="false", Unique__ID=str(uuid.uuid4()))


def post_vars(all_fields: bool) -> tuple[str, ...]:
    """The ``enable-post-var`` whitelist of the shipped ``xml_curl.conf.xml`` (none: every field)."""
    return () if all_fields else whitelist(XML_CURL_CONF)


def build(users: list[BenchUser], url: str, count: int, seed: int = 7,
          allowed: tuple[str, ...] = ()) -> list[tuple[str, bytes]]:
    """``count`` (kind, raw HTTP request) pairs in random order, kinds in the :data:`MIX` proportions;
    bodies carry only the ``allowed`` fields, as FreeSWITCH posts them with that whitelist."""
    rnd = random.Random(seed)
    client = _Client(url, hostname="fs1")
    by_tenant: dict[str, list[BenchUser]] = {}
    for u in users:
        by_tenant.setdefault(u.tenant, []).append(u)
    numbers = [f"03{5000000 + int(t[1:]):08d}" for t in by_tenant]  # the tenants' representative numbers
    kinds = [k for k, share in MIX for _ in range(share)]
    out = []
    for i in range(count):
        kind, u = rnd.choice(kinds), rnd.choice(users)
        if kind == "sip_auth":
            body = _sip_auth(client, rnd, u, i)
        elif kind == "user_call":
            body = client.directory_body(user=u.extension, domain=u.domain, action="user_call",
                                         dialed_extension=u.extension)
        elif kind == "internal":
            body = _call(client, u, rnd.choice(by_tenant[u.tenant]).extension)
        elif kind == "did":
            body = _did(client, rnd, numbers)
        else:
            number = rnd.choice((f"03{rnd.randrange(10**8):08d}", f"090{rnd.randrange(10**8):08d}"))
            body = _call(client, u, number)
        out.append((kind, client.request_bytes(filter_body(body, allowed))))
    return out
