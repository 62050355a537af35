"""Carrier gateways from the store: the admin API (roles, tenant scoping, a write-only
password, validation), the 0001 -> 0002 migration with data kept, and the ``purpose=gateways``
answer read the way mod_sofia 1.10.12 reads it (sofia.c ``parse_domain_tag`` and
``parse_gateways``), against the captured request of a real FreeSWITCH."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from fsemu.urlencode import decode_form, encode_form
from fsemu.xml_curl import XmlCurlClient
from hibiki.common import bus
from hibiki.common.auth import Claims, TokenAuthority
from hibiki.directory import documents
from hibiki.directory.gateways import GatewayEntry, document
from hibiki.directory.storage.database import MIGRATIONS, open_store
from hibiki.directory.storage.tables import metadata
from hibiki.events.v1 import config_pb2
from support.directory import Directory, directory_config, running_directory
from support.servers import FIXTURES

CAPTURE = FIXTURES / "xml_curl" / "raw_xml_curl_001_directory.body"   # purpose=gateways, profile=internal
NETWORK_LIST = FIXTURES / "xml_curl" / "raw_xml_curl_002_directory.body"
NOT_FOUND = documents.NOT_FOUND.encode()
SECRET = "s3cr&t<\"'>pw"          # every character XML must escape


# --- how mod_sofia reads the answer ------------------------------------------------------
def sofia_gateways(doc: ET.Element, domain: str | None = None) -> dict[str, dict[str, str]]:
    """The gateways mod_sofia loads from a directory answer (parse="true"), by name.

    ``domain`` None is ``<domain name="all">``: every ``<domain>`` of the directory section;
    else the ``<domain>`` of that name (switch_xml_locate_domain). Gateways are read from the
    ``<gateways>`` of each ``<user>`` directly under the domain and inside groups; a name that
    fails sofia's ``^[\\w\\.\\-\\_]+$`` or a registering gateway without username or password
    is skipped, as parse_gateways does."""
    assert doc.tag == "document" and doc.get("type") == "freeswitch/xml"
    section = doc.find("./section[@name='directory']")
    assert section is not None, ET.tostring(doc)
    domains = [d for d in section.findall("domain") if domain is None or (d.get("name") or "").lower() == domain.lower()]
    found: dict[str, dict[str, str]] = {}
    for dom in domains:
        users = dom.findall("user") + dom.findall("./groups/group/users/user")
        for tag in (g for u in users for g in u.findall("./gateways/gateway")):
            name = tag.get("name") or ""
            params = tag.find("params")
            pairs = (params if params is not None else tag).findall("param")
            values = {p.get("name", ""): p.get("value", "") for p in pairs}
            if not re.fullmatch(r"[\w.\-_]+", name, re.ASCII) or name in found:
                continue
            if values.get("register", "true") == "true" and not (values.get("username") and values.get("password")):
                continue
            found[name] = values
    return found


def test_the_document_is_what_sofia_parses_with_every_value_escaped() -> None:
    trunk = GatewayEntry(name="ntt-east.1", profile="internal", proxy="sip.carrier.example.jp", port=5070,
                         transport="tcp", username="0312345678", password=SECRET, ping_seconds=30,
                         extension="auto_to_user", from_domain="ntt.example.jp")
    by_address = GatewayEntry(name="kddi", profile="internal", proxy="[2001:db8::5]", register=False)
    text_ = document([("a.example.jp", [trunk, by_address]), ("b.example.jp", [])])
    assert SECRET not in repr(trunk)
    loaded = sofia_gateways(ET.fromstring(text_))
    assert loaded == {
        "ntt-east.1": {"proxy": "sip.carrier.example.jp:5070", "register": "true", "register-transport": "tcp",
                       "expire-seconds": "3600", "caller-id-in-from": "false", "username": "0312345678",
                       "password": SECRET, "from-domain": "ntt.example.jp", "extension": "auto_to_user", "ping": "30"},
        "kddi": {"proxy": "[2001:db8::5]", "register": "false", "register-transport": "udp", "expire-seconds": "3600",
                 "caller-id-in-from": "false"},
    }
    assert sofia_gateways(ET.fromstring(text_), "B.example.jp") == {}


# --- the service -------------------------------------------------------------------------
@pytest.fixture
async def directory(tmp_path: Path, nats_server: Any, nats_client: Any,
                    authority: TokenAuthority) -> AsyncIterator[Directory]:
    async with running_directory(directory_config(tmp_path, nats_server), nats_client, authority) as service:
        yield service


@pytest.fixture
async def api(directory: Directory) -> AsyncIterator[httpx.AsyncClient]:
    """The admin API without a token: each request carries the role it is made in."""
    async with httpx.AsyncClient(base_url=directory.url) as client:
        yield client


def bearer(authority: TokenAuthority, tenant: str, *roles: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + authority.issue(Claims("someone", "user", tenant, roles))}


async def new_tenant(api: httpx.AsyncClient, platform: dict[str, str], domain: str | None = None) -> str:
    name = f"g{uuid.uuid4().hex[:8]}"
    reply = await api.post("/api/v1/tenants", json={"id": name, "domain": domain or f"{name}.example.jp"},
                           headers=platform)
    assert reply.status_code == 201, reply.text
    return name


def trunk(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "proxy": "sip.carrier.example.jp", "username": "0258123456", "password": SECRET, **extra}


async def test_crud_roles_and_tenant_scoping(api: httpx.AsyncClient, authority: TokenAuthority) -> None:
    platform = bearer(authority, "*", "platform-admin")
    a, b = await new_tenant(api, platform), await new_tenant(api, platform)
    admin_a, viewer_a, admin_b = bearer(authority, a, "admin"), bearer(authority, a, "viewer"), bearer(authority, b, "admin")
    base = f"/api/v1/tenants/{a}/gateways"
    name = f"ntt-{a}"

    created = await api.post(base, json=trunk(name, port=5060, ping_seconds=30), headers=admin_a)
    assert created.status_code == 201, created.text
    gateway = created.json()
    assert gateway["name"] == name and gateway["profile"] == "internal" and gateway["register"] is True
    assert gateway["transport"] == "udp" and gateway["port"] == 5060 and gateway["password_set"] is True
    path = f"{base}/{gateway['id']}"

    assert (await api.get(path, headers=viewer_a)).json() == gateway
    assert [g["id"] for g in (await api.get(base, headers=viewer_a)).json()["items"]] == [gateway["id"]]
    for headers, method, where, body in (
        (viewer_a, "POST", base, trunk(f"x-{a}")),
        (viewer_a, "PATCH", path, {"enabled": False}),
        (viewer_a, "DELETE", path, None),
        (admin_b, "GET", base, None),
        (admin_b, "GET", path, None),
        (admin_b, "PATCH", path, {"enabled": False}),
        (bearer(authority, a, "recording-admin"), "GET", base, None),
    ):
        reply = await api.request(method, where, json=body, headers=headers)
        assert (reply.status_code, reply.json()["error_id"]) == (403, "forbidden"), (method, where, reply.text)
    assert (await api.get(base)).status_code == 401
    # a's gateway is not reachable through b's URL, even for the platform
    missing = await api.get(f"/api/v1/tenants/{b}/gateways/{gateway['id']}", headers=platform)
    assert (missing.status_code, missing.json()["error_id"]) == (404, "gateway-not-found")

    # the name is FreeSWITCH's and global: another tenant cannot take it
    taken = await api.post(f"/api/v1/tenants/{b}/gateways", json=trunk(name), headers=admin_b)
    assert (taken.status_code, taken.json()["error_id"], taken.json()["details"]["field"]) == (409, "name-taken", "name")

    patched = await api.patch(path, json={"proxy": "192.0.2.10", "port": None, "password": "a new one",
                                          "transport": "tcp", "register": False}, headers=admin_a)
    assert patched.status_code == 200, patched.text
    assert {k: patched.json()[k] for k in ("proxy", "port", "transport", "register", "password_set")} == {
        "proxy": "192.0.2.10", "port": None, "transport": "tcp", "register": False, "password_set": True}
    renamed = await api.patch(path, json={"name": "other"}, headers=admin_a)
    assert (renamed.status_code, renamed.json()["error_id"]) == (422, "invalid-name")

    # the gateway the tenant's outbound calls use stays until outbound_gateway changes
    assert (await api.patch(f"/api/v1/tenants/{a}", json={"outbound_gateway": name}, headers=admin_a)).status_code == 200
    in_use = await api.delete(path, headers=admin_a)
    assert (in_use.status_code, in_use.json()["error_id"]) == (409, "gateway-in-use")
    assert (await api.patch(f"/api/v1/tenants/{a}", json={"outbound_gateway": ""}, headers=admin_a)).status_code == 200
    assert (await api.delete(path, headers=admin_a)).status_code == 204
    assert (await api.get(path, headers=admin_a)).json()["error_id"] == "gateway-not-found"
    # every change bumped the version: tenant, create, patch, 2 tenant patches, delete
    assert (await api.get(f"/api/v1/tenants/{a}", headers=admin_a)).json()["version"] == 6
    # a freed name can be used again, by anyone
    assert (await api.post(f"/api/v1/tenants/{b}/gateways", json=trunk(name), headers=admin_b)).status_code == 201


async def test_the_password_is_write_only(api: httpx.AsyncClient, authority: TokenAuthority) -> None:
    platform = bearer(authority, "*", "platform-admin")
    t = await new_tenant(api, platform)
    base = f"/api/v1/tenants/{t}/gateways"
    replies = [await api.post(base, json=trunk(f"pw-{t}"), headers=platform)]
    item = f"{base}/{replies[0].json()['id']}"
    replies += [await api.get(base, headers=platform), await api.get(item, headers=platform),
                await api.patch(item, json={"password": SECRET + "2"}, headers=platform)]
    for reply in replies:
        assert reply.status_code in (200, 201), reply.text
        assert "s3cr" not in reply.text and '"password"' not in reply.text
    assert replies[-1].json()["password_set"] is True
    schemas = (await api.get("/api/v1/openapi.json", headers=platform)).json()["components"]["schemas"]
    assert schemas["GatewayIn"]["properties"]["password"]["writeOnly"] is True
    assert "password" not in schemas["GatewayOut"]["properties"]
    assert {"/api/v1/tenants/{tenant}/gateways", "/api/v1/tenants/{tenant}/gateways/{id}"} <= set(
        (await api.get("/api/v1/openapi.json", headers=platform)).json()["paths"])


async def test_validation_errors_name_the_field(api: httpx.AsyncClient, authority: TokenAuthority) -> None:
    platform = bearer(authority, "*", "platform-admin")
    t = await new_tenant(api, platform)
    base = f"/api/v1/tenants/{t}/gateways"
    cases = [
        (trunk("bad name"), "invalid-name", "name"),
        (trunk("a/b"), "invalid-name", "name"),
        (trunk("x" * 65), "invalid-name", "name"),
        (trunk("g1", proxy="not a host"), "invalid-proxy", "proxy"),
        (trunk("g1", proxy="[2001:db8::zz]"), "invalid-proxy", "proxy"),
        (trunk("g1", proxy="[::1:2:3:4:5:6:7:8:9]"), "invalid-proxy", "proxy"),
        (trunk("g1", port=70000), "invalid-port", "port"),
        (trunk("g1", transport="sctp"), "invalid-transport", "transport"),
        (trunk("g1", profile="a b"), "invalid-profile", "profile"),
        (trunk("g1", username="a b"), "invalid-username", "username"),
        (trunk("g1", password="line\nbreak"), "invalid-password", "password"),
        (trunk("g1", password="p" * 129), "invalid-password", "password"),
        (trunk("g1", ping_seconds=3), "invalid-ping_seconds", "ping_seconds"),
        (trunk("g1", expire_seconds=5), "invalid-expire_seconds", "expire_seconds"),
        (trunk("g1", extension="reception"), "invalid-extension", "extension"),
        (trunk("g1", register="maybe"), "invalid-register", "register"),
        (trunk("g1", realm="a realm"), "invalid-realm", "realm"),
        (trunk("g1", secret="x"), "invalid-secret", "secret"),
        ({"name": "g1"}, "invalid-proxy", "proxy"),
        (trunk("g1", password=""), "invalid-password", "password"),       # a registering gateway needs both
        (trunk("g1", username=""), "invalid-username", "username"),
    ]
    for body, error_id, field in cases:
        reply = await api.post(base, json=body, headers=platform)
        assert reply.status_code == 422, (body, reply.text)
        assert (reply.json()["error_id"], reply.json()["details"]["field"]) == (error_id, field), (body, reply.text)
        assert SECRET not in reply.text
    by_address = await api.post(base, json={"name": f"ip-{t}", "proxy": "192.0.2.1", "register": False}, headers=platform)
    assert by_address.status_code == 201 and by_address.json()["password_set"] is False
    item = f"{base}/{by_address.json()['id']}"
    for body, error_id, field in (({"register": True}, "invalid-username", "username"),
                                  ({"register": True, "username": "u1"}, "invalid-password", "password"),
                                  ({"proxy": None}, "invalid-proxy", "proxy"),
                                  ({"enabled": None}, "invalid-enabled", "enabled")):
        reply = await api.patch(item, json=body, headers=platform)
        assert (reply.status_code, reply.json()["error_id"], reply.json()["details"]["field"]) == (422, error_id, field)
    assert (await api.get(base, headers=platform)).json()["items"] == [by_address.json()]   # nothing else stored
    assert (await api.get(f"/api/v1/tenants/{t}", headers=platform)).json()["version"] == 2


# --- the migration -----------------------------------------------------------------------
def test_the_0002_migration_adds_gateways_and_keeps_what_is_stored(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    engine = create_engine(url)
    alembic = Config()
    alembic.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        alembic.attributes["connection"] = conn
        command.upgrade(alembic, "0001")
    with engine.begin() as conn:
        conn.execute(text("insert into tenants (id, domain, name, representative_number, outbound_gateway, version, "
                          "created_at) values ('nagaoka', 'nagaoka.example.jp', '長岡市', '0258123456', 'ntt', 7, "
                          "'2030-01-01 00:00:00')"))
        conn.execute(text("insert into users (id, tenant_id, username, display_name, display_name_kana, email, "
                          "direct_number, caller_id_policy, outbound_classes, context, forward_always, forward_busy, "
                          "forward_no_answer, forward_no_answer_seconds, forward_unregistered, pickup_group, "
                          "park_group, voicemail_enabled, voicemail_pin, created_at) values ('u1', 'nagaoka', 'sato', "
                          "'佐藤', '', '', '', 'representative', '[]', 'default', '', '', '', 20, '', '', '', 1, '', "
                          "'2030-01-01 00:00:00')"))
        assert "gateways" not in inspect(conn).get_table_names()
    engine.dispose()

    with engine.begin() as conn:   # 0001 -> 0002, as open_store does at start on its way to the head
        alembic.attributes["connection"] = conn
        command.upgrade(alembic, "0002")
    with engine.connect() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar_one() == "0002"
        assert conn.execute(text("select domain, outbound_gateway, version from tenants")).all() == [
            ("nagaoka.example.jp", "ntt", 7)]
        assert conn.execute(text("select username, display_name from users")).all() == [("sato", "佐藤")]
        assert conn.execute(text("select count(*) from gateways")).scalar_one() == 0
        only_gateways = {"include_object": lambda _, name, kind, *__: kind != "table" or name == "gateways"}
        assert compare_metadata(MigrationContext.configure(conn, opts=only_gateways), metadata) == []
    with engine.begin() as conn:   # the new table takes rows, and a downgrade gives 0001 back with its data
        conn.execute(text("insert into gateways (id, tenant_id, name, profile, proxy, realm, transport, username, "
                          "password, register, expire_seconds, caller_id_in_from, from_user, from_domain, extension, "
                          "ping_seconds, enabled, created_at) values ('g1', 'nagaoka', 'ntt', 'internal', 'sip.example', "
                          "'', 'udp', 'u', 'p', 1, 3600, 0, '', '', '', 0, 1, '2030-01-01 00:00:00')"))
        alembic.attributes["connection"] = conn
        command.downgrade(alembic, "0001")
        assert "gateways" not in inspect(conn).get_table_names()
        assert conn.execute(text("select count(*) from users")).scalar_one() == 1
    engine.dispose()
    open_store(url).dispose()      # and the service's start takes it from there to the head


# --- what FreeSWITCH gets ----------------------------------------------------------------
def gateways_body(profile: str = "internal", domain: str | None = None) -> bytes:
    """The captured request, for another profile or for one named domain
    (switch_xml_locate_domain: tag_name=domain, key_name=name, key_value=<domain>, no domain field)."""
    pairs = [(k, profile if k == "profile" else v) for k, v in decode_form(CAPTURE.read_bytes())]
    if domain is not None:
        named = {"tag_name": "domain", "key_name": "name", "key_value": domain}
        pairs = [(k, named.get(k, v)) for k, v in pairs]
    return encode_form(pairs)


async def test_fsapi_serves_each_profile_its_enabled_gateways(
        directory: Directory, api: httpx.AsyncClient, authority: TokenAuthority,
        capfd: pytest.CaptureFixture[str]) -> None:
    from hibiki.common.logging import configure

    configure("directory")   # log to stderr (whatever an earlier test configured), which capfd captures
    fs = XmlCurlClient(directory.fsapi)
    capture = CAPTURE.read_bytes()
    assert b"purpose=gateways&profile=internal" in capture and b"&domain=" not in capture
    assert (await fs.post(capture)).body == NOT_FOUND      # no tenant yet: FreeSWITCH reads its static directory

    platform = bearer(authority, "*", "platform-admin")

    async def settled(tenant: str) -> None:
        """Wait until this replica has compiled the tenant's current version (0: it is gone)."""
        reply = await api.get(f"/api/v1/tenants/{tenant}", headers=platform)
        version = reply.json()["version"] if reply.status_code == 200 else 0
        while True:
            msg = await directory.applied.next_msg(timeout=5)   # hibiki.*.config.applied
            got = config_pb2.ConfigurationChanged.FromString(msg.data).version
            if msg.subject == bus.subject(tenant, "config", "applied") and (got >= version if version else got == 0):
                return

    async def change(method: str, path: str, body: Any = None) -> Any:
        reply = await api.request(method, path, json=body, headers=platform)
        assert reply.status_code in (200, 201, 204), reply.text
        await settled(path.split("/")[4])
        return reply.json() if reply.content else None

    a = await new_tenant(api, platform, "127.0.0.1")
    b = await new_tenant(api, platform)
    await settled(a), await settled(b)

    ntt = await change("POST", f"/api/v1/tenants/{a}/gateways", trunk(f"ntt-{a}", port=5070, transport="tcp",
                                                                      ping_seconds=30, extension="auto_to_user",
                                                                      caller_id_in_from=True, from_user="0258123456"))
    await change("POST", f"/api/v1/tenants/{a}/gateways", {"name": f"ip-{a}", "proxy": "[2001:db8::7]",
                                                          "register": False})
    off = await change("POST", f"/api/v1/tenants/{a}/gateways", trunk(f"off-{a}", enabled=False))
    await change("POST", f"/api/v1/tenants/{a}/gateways", trunk(f"ext-{a}", profile="external"))
    await change("POST", f"/api/v1/tenants/{b}/gateways", trunk(f"kddi-{b}", username="kddi&co"))

    # the captured request itself: <domain name="all" parse="true"/> of profile internal
    reply = await fs.post(capture)
    assert reply.status == 200 and reply.xml is not None, reply.body
    assert {d.get("name") for d in reply.xml.iter("domain")} == {"127.0.0.1", f"{b}.example.jp"}
    loaded = sofia_gateways(reply.xml)
    assert set(loaded) == {f"ntt-{a}", f"ip-{a}", f"kddi-{b}"}      # not the disabled one, not the external one
    assert loaded[f"ntt-{a}"] == {
        "proxy": "sip.carrier.example.jp:5070", "register": "true", "register-transport": "tcp",
        "expire-seconds": "3600", "caller-id-in-from": "true", "username": "0258123456", "password": SECRET,
        "from-user": "0258123456", "extension": "auto_to_user", "ping": "30"}
    assert loaded[f"ip-{a}"] == {"proxy": "[2001:db8::7]", "register": "false", "register-transport": "udp",
                                 "expire-seconds": "3600", "caller-id-in-from": "false"}
    assert loaded[f"kddi-{b}"]["username"] == "kddi&co"
    assert sofia_gateways(reply.xml, "127.0.0.1") == {k: v for k, v in loaded.items() if k.endswith(a)}

    # another profile gets its own; a profile without any gets the domains and no gateway
    assert set(sofia_gateways((await fs.post(gateways_body("external"))).xml)) == {f"ext-{a}"}
    empty = await fs.post(gateways_body("wan"))
    assert empty.xml is not None and not empty.not_found and sofia_gateways(empty.xml) == {}
    # <domain name="127.0.0.1" parse="true"/>: that domain only; an unknown one is not found
    one = await fs.post(gateways_body(domain="127.0.0.1"))
    assert one.xml is not None and [d.get("name") for d in one.xml.iter("domain")] == ["127.0.0.1"]
    assert set(sofia_gateways(one.xml, "127.0.0.1")) == {f"ntt-{a}", f"ip-{a}"}
    assert (await fs.post(gateways_body(domain="nobody.example.jp"))).body == NOT_FOUND
    assert (await fs.post(capture.replace(b"&profile=internal", b""))).body == NOT_FOUND
    assert (await fs.post(NETWORK_LIST.read_bytes())).body == NOT_FOUND    # network lists: still not served

    # a change is in the next answer: a new password, a gateway enabled, one disabled
    await change("PATCH", f"/api/v1/tenants/{a}/gateways/{ntt['id']}", {"password": "rotated-pw", "enabled": True})
    await change("PATCH", f"/api/v1/tenants/{a}/gateways/{off['id']}", {"enabled": True})
    [kddi] = (await api.get(f"/api/v1/tenants/{b}/gateways", headers=platform)).json()["items"]
    await change("PATCH", f"/api/v1/tenants/{b}/gateways/{kddi['id']}", {"enabled": False})
    loaded = sofia_gateways((await fs.post(capture)).xml)
    assert set(loaded) == {f"ntt-{a}", f"ip-{a}", f"off-{a}"}
    assert loaded[f"ntt-{a}"]["password"] == "rotated-pw"
    # deleting the tenant takes its gateways along
    await change("DELETE", f"/api/v1/tenants/{a}")
    assert sofia_gateways((await fs.post(capture)).xml) == {}
    # no password reached a log line, whatever was asked
    out, err = capfd.readouterr()
    assert "tenant_refreshed" in out + err          # the service's log lines were captured ...
    assert SECRET not in out + err and "rotated-pw" not in out + err
