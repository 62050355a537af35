"""mod_xml_curl client: the exact POST FreeSWITCH sends, and how it reads the answer.

Sources: src/mod/xml_int/mod_xml_curl/mod_xml_curl.c (v1.10.12, ``xml_url_fetch``): body =
``hostname=..&section=..&tag_name=..&key_name=..&key_value=..`` + url-encoded params; header
``Content-Type: application/x-www-form-urlencoded``; User-Agent ``freeswitch-xml/1.0``; an HTTP
status other than 200 or unparsable XML = no result.  Request line and header order are the
captures' (xml_curl/*.headers; curl sends CRLF line ends on the wire).  Bodies are rebuilt from
the captured request of the same kind (ordered fields, values replaced).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import unquote, urlsplit

from .events import CoreInfo, date_gmt, date_local, system_clock
from .fixtures import xml_curl_dir
from .urlencode import decode_form, encode_form

__all__ = ["XmlCurlClient", "XmlCurlResponse", "DirectoryUser", "find_user", "locate_user", "digest_response",
           "verify_digest", "NOT_FOUND", "TEMPLATES"]

NOT_FOUND = ('<document type="freeswitch/xml"><section name="result"><result status="not found"/>'
             '</section></document>')
TEMPLATES = {None: "raw_xml_curl_100_directory.body", "sip_auth": "xml_curl_directory_sip_auth_REGISTER.body",
             "user_call": "xml_curl_directory_user_call.body", "message-count": "raw_xml_curl_007_directory.body",
             "voicemail-lookup": "raw_xml_curl_012_directory.body", "gateways": "raw_xml_curl_001_directory.body",
             "network-list": "raw_xml_curl_002_directory.body", "dialplan": "xml_curl_dialplan_9196.body"}


@dataclass
class XmlCurlResponse:
    status: int
    body: bytes
    xml: ET.Element | None

    @property
    def not_found(self) -> bool:
        if self.status != 200 or self.xml is None:
            return True
        res = self.xml.find("./section[@name='result']/result")
        return res is not None and res.get("status") == "not found"


@dataclass
class DirectoryUser:
    """A user as ``switch_xml_locate_user_merged`` returns it: its own params and variables,
    then those of its group, then those of its domain, a name already present (compared without
    case) never repeated (``switch_xml_merge_user`` / ``do_merge``, src/switch_xml.c)."""

    id: str
    domain: str
    params: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    group: str | None = None
    profile_variables: dict[str, str] = field(default_factory=dict)

    def param(self, name: str) -> str | None:
        """The value of a param, the name compared without case (last one wins, as the
        readers in sofia_reg.c and mod_dptools.c loop over all of them)."""
        found = None
        for k, v in self.params.items():
            if k.lower() == name.lower():
                found = v
        return found

    def a1_hash(self) -> str | None:
        if self.param("a1-hash"):
            return self.param("a1-hash")
        if self.param("password"):
            return hashlib.md5(f"{self.id}:{self.domain}:{self.param('password')}".encode()).hexdigest()
        return None


def _child(node: ET.Element | None, name: str) -> ET.Element | None:
    """switch_xml_child: the first child of that name."""
    return node.find(name) if node is not None else None


def _find_child(node: ET.Element | None, name: str, attr: str, value: str) -> ET.Element | None:
    """switch_xml_find_child: the first child whose attribute equals value, without case."""
    if node is None:
        return None
    for child in node.findall(name):
        got = child.get(attr)
        if got is not None and got.lower() == value.lower():
            return child
    return None


def _find_child_multi(node: ET.Element, name: str, pairs: list[tuple[str, str | None]]) -> ET.Element | None:
    """switch_xml_find_child_multi: a child for which ANY listed attribute matches; a value
    ``!x`` matches an attribute that is present and differs from x.  The list ends at the
    first pair without a value (va_list)."""
    wanted: list[tuple[str, str]] = []
    for attr, value in pairs:
        if value is None:
            break
        wanted.append((attr, value))
    if not wanted:
        return node
    for child in node.findall(name):
        for attr, value in wanted:
            got = child.get(attr)
            if got is None:
                continue
            if value.startswith("!"):
                if got.lower() != value[1:].lower():
                    return child
            elif got.lower() == value.lower():
                return child
    return None


def _find_user_in_tag(tag: ET.Element, ip: str | None, user_name: str | None, key: str,
                      user_type: str | None) -> ET.Element | None:
    """find_user_in_tag (src/switch_xml.c)."""
    if ip:
        found = _find_child_multi(tag, "user", [("ip", ip), ("type", user_type)])
        if found is not None:
            return found
    if user_name:
        if key.lower() == "id":
            return _find_child_multi(tag, "user", [(key, user_name), ("number-alias", user_name), ("type", user_type)])
        return _find_child_multi(tag, "user", [(key, user_name), ("type", user_type)])
    return None


def _merge(into: dict[str, str], src: ET.Element | None, container: str, tag: str) -> None:
    """do_merge: add the source's entries whose name the user does not have yet."""
    box = _child(src, container)
    if box is None:
        return
    have = {k.lower() for k in into}
    for item in box.findall(tag):
        name = item.get("name")
        if name is None or name.lower() in have:
            continue
        into[name] = item.get("value", "")
        have.add(name.lower())


def locate_user(doc: ET.Element, key: str, user_name: str, domain_name: str, ip: str | None = None,
                user_type: str | None = None) -> DirectoryUser | None:
    """switch_xml_locate_user + switch_xml_merge_user over one document: section
    ``directory``, its ``domain`` named domain_name, the user by ``key`` (``id`` also matches
    ``number-alias``; by ``ip`` first when given) in the groups' users, else in the domain's
    ``users`` (or directly under the domain); ``type="pointer"`` users are skipped unless
    user_type says otherwise (``any`` = every type)."""
    section = _find_child(doc, "section", "name", "directory")
    domain = _find_child(section, "domain", "name", domain_name)
    if domain is None:
        return None
    wanted_type: str | None = "!pointer"
    if user_type is not None:
        wanted_type = None if user_type.lower() == "any" else user_type
    found: ET.Element | None = None
    group: ET.Element | None = None
    groups = _child(domain, "groups")
    if groups is not None:
        for g in groups.findall("group"):
            users = _child(g, "users")
            if users is not None:
                found = _find_user_in_tag(users, ip, user_name, key, wanted_type)
                if found is not None:
                    group = g
                    break
    if found is None:
        users = _child(domain, "users")
        found = _find_user_in_tag(users if users is not None else domain, ip, user_name, key, wanted_type)
    if found is None:
        return None
    user = DirectoryUser(found.get("id", user_name), domain.get("name", domain_name), attributes=dict(found.attrib),
                         group=group.get("name") if group is not None else None)
    for target, container, tag in ((user.params, "params", "param"), (user.variables, "variables", "variable"),
                                   (user.profile_variables, "profile-variables", "variable")):
        own = _child(found, container)
        for item in own.findall(tag) if own is not None else []:
            target[item.get("name", "")] = item.get("value", "")
    for source in (group, domain):
        _merge(user.params, source, "params", "param")
        _merge(user.variables, source, "variables", "variable")
        _merge(user.profile_variables, source, "profile-variables", "variable")
    user.attributes["domain-name"] = domain.get("name", domain_name)
    return user


def find_user(doc: ET.Element, user: str, domain: str) -> DirectoryUser | None:
    """The user ``id`` (or number-alias) of a domain, merged as FreeSWITCH reads it."""
    return locate_user(doc, "id", user, domain)


def digest_response(a1: str, method: str, uri: str, nonce: str, *, qop: str | None = None,
                    nc: str = "", cnonce: str = "") -> str:
    """RFC 2617 digest as mod_sofia (sofia_reg_parse_auth) checks it."""
    ha2 = hashlib.md5(f"{method}:{uri}".encode()).hexdigest()
    if qop:
        return hashlib.md5(f"{a1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode()).hexdigest()
    return hashlib.md5(f"{a1}:{nonce}:{ha2}".encode()).hexdigest()


def verify_digest(user: DirectoryUser, *, method: str, uri: str, nonce: str, response: str,
                  qop: str | None = None, nc: str = "", cnonce: str = "") -> bool:
    a1 = user.a1_hash()
    return a1 is not None and digest_response(a1, method, uri, nonce, qop=qop, nc=nc, cnonce=cnonce) == response


class XmlCurlClient:
    """Sends mod_xml_curl requests to *url* (http only)."""

    def __init__(self, url: str, *, hostname: str = "fs", core: CoreInfo | None = None,
                 clock: Callable[[], int] = system_clock, basic_auth: tuple[str, str] | None = None,
                 sequence: Callable[[], int] | None = None, timeout: float = 10.0) -> None:
        self.url = url
        self.hostname = hostname
        self.core = core or CoreInfo(hostname=hostname, switchname=hostname)
        self.clock = clock
        parts = urlsplit(url)
        if basic_auth is None and parts.username is not None:   # libcurl sends a URL's user:password as basic auth
            basic_auth = (unquote(parts.username), unquote(parts.password or ""))
        self.basic_auth = basic_auth
        self._seq = sequence or (lambda: 1)
        self.timeout = timeout

    # ---- bodies -------------------------------------------------------------------------
    @staticmethod
    def template(kind: str | None) -> list[tuple[str, str]]:
        return decode_form((xml_curl_dir() / TEMPLATES[kind]).read_bytes())

    def _fill(self, pairs: list[tuple[str, str]], values: dict[str, str], *, seq: int | None,
              stamp: int | None) -> list[tuple[str, str]]:
        ts = self.clock() if stamp is None else stamp
        base = {"hostname": self.hostname, "Core-UUID": self.core.core_uuid,
                "FreeSWITCH-Hostname": self.core.hostname, "FreeSWITCH-Switchname": self.core.switchname,
                "FreeSWITCH-IPv4": self.core.ipv4, "FreeSWITCH-IPv6": self.core.ipv6,
                "Event-Date-Local": date_local(ts), "Event-Date-GMT": date_gmt(ts),
                "Event-Date-Timestamp": str(ts), "Event-Sequence": str(self._seq() if seq is None else seq)}
        base.update(values)
        out = [(k, base.get(k, v)) for k, v in pairs]
        known = {k for k, _ in pairs}
        out += [(k, v) for k, v in values.items() if k not in known]
        return out

    def request_body(self, kind: str | None, key_value: str, params: list[tuple[str, str | None]], *,
                     seq: int | None = None, stamp: int | None = None,
                     post_vars: tuple[str, ...] | None = None) -> bytes:
        """A directory request built like FreeSWITCH builds it: the captured request of this
        kind up to ``Event-Sequence`` (the event's standard headers, its Event-Calling-*) with
        this switch's values, then ``params`` in order; empty values are left out as
        ``switch_event_add_header_string`` does.  ``post_vars``: the binding's
        ``enable-post-var`` names (exact): only those event headers follow the five fixed fields."""
        pairs = self.template(kind)
        head = pairs[:[k for k, _ in pairs].index("Event-Sequence") + 1]
        filled = self._fill(head, {"key_value": key_value}, seq=seq, stamp=stamp)
        fields = filled + [(k, v) for k, v in params if v]
        if post_vars:
            fields = fields[:5] + [(k, v) for k, v in fields[5:] if k in post_vars]
        return encode_form(fields)

    def directory_body(self, *, user: str, domain: str, action: str | None = None, purpose: str | None = None,
                       seq: int | None = None, stamp: int | None = None, **extra: str) -> bytes:
        kind = purpose if purpose in ("gateways", "network-list") else action
        pairs = self.template(kind)
        values = {"key_value": domain, "user": user, "domain": domain}
        if kind == "sip_auth":
            values.update({"sip_auth_username": user, "sip_auth_realm": domain, "sip_to_user": user,
                           "sip_from_user": user, "sip_to_host": domain, "sip_from_host": domain})
        values.update({k.replace("__", "-"): v for k, v in extra.items()})
        if kind in ("gateways",):
            values.pop("user"), values.pop("domain")
        return encode_form(self._fill(pairs, values, seq=seq, stamp=stamp))

    def dialplan_body(self, *, destination_number: str, caller_id_number: str, context: str = "default",
                      seq: int | None = None, stamp: int | None = None, **extra: str) -> bytes:
        pairs = self.template("dialplan")
        values = {"Caller-Destination-Number": destination_number, "Hunt-Destination-Number": destination_number,
                  "Caller-Caller-ID-Number": caller_id_number, "Hunt-Caller-ID-Number": caller_id_number,
                  "Caller-Context": context, "Hunt-Context": context}
        values.update({k.replace("__", "-"): v for k, v in extra.items()})
        return encode_form(self._fill(pairs, values, seq=seq, stamp=stamp))

    # ---- HTTP ---------------------------------------------------------------------------
    def request_bytes(self, body: bytes) -> bytes:
        u = urlsplit(self.url)
        host = u.hostname or "127.0.0.1"
        port = u.port or 80
        hosthdr = host if port == 80 else f"{host}:{port}"
        lines = [f"POST {u.path or '/'}{'?' + u.query if u.query else ''} HTTP/1.1", f"Host: {hosthdr}"]
        if self.basic_auth:
            cred = base64.b64encode(f"{self.basic_auth[0]}:{self.basic_auth[1]}".encode()).decode()
            lines.append(f"Authorization: Basic {cred}")
        lines += ["User-Agent: freeswitch-xml/1.0", "Accept: */*", f"Content-Length: {len(body)}",
                  "Content-Type: application/x-www-form-urlencoded"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + body

    async def post(self, body: bytes) -> XmlCurlResponse:
        u = urlsplit(self.url)
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(u.hostname or "127.0.0.1", u.port or 80), self.timeout)
        except (OSError, asyncio.TimeoutError):
            return XmlCurlResponse(0, b"", None)  # CURL returned error:[7]
        try:
            writer.write(self.request_bytes(body))
            await writer.drain()
            status, payload = await asyncio.wait_for(_read_response(reader), self.timeout)
        except (OSError, asyncio.TimeoutError, ValueError, asyncio.IncompleteReadError):
            return XmlCurlResponse(0, b"", None)
        finally:
            writer.close()
        xml = None
        if status == 200:
            try:
                xml = ET.fromstring(payload)
            except ET.ParseError:
                xml = None
        return XmlCurlResponse(status, payload, xml)

    async def directory(self, *, user: str, domain: str, action: str | None = None,
                        sip_auth_method: str | None = None, purpose: str | None = None,
                        profile: str | None = None, **extra: str) -> XmlCurlResponse:
        if sip_auth_method:
            extra["sip_auth_method"] = sip_auth_method
        if profile:
            extra["sip_profile" if action == "sip_auth" else "profile"] = profile
        return await self.post(self.directory_body(user=user, domain=domain, action=action, purpose=purpose, **extra))

    async def dialplan(self, *, destination_number: str, caller_id_number: str, context: str = "default",
                       **extra: str) -> XmlCurlResponse:
        return await self.post(self.dialplan_body(destination_number=destination_number,
                                                  caller_id_number=caller_id_number, context=context, **extra))


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {ln.split(":", 1)[0].strip().lower(): ln.split(":", 1)[1].strip() for ln in lines[1:] if ":" in ln}
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    else:
        body = await reader.read()
    return status, body
