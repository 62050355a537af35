"""What FreeSWITCH asks over mod_xml_curl, parsed and checked.

FreeSWITCH POSTs ``application/x-www-form-urlencoded`` fields: ``section``,
``tag_name``, ``key_name``, ``key_value`` and the event headers of the lookup
(``Event-Calling-Function``, ``action``, ``user``, ``domain``, ``purpose``,
``Caller-Destination-Number`` ...). Anything we cannot read is a
:class:`BadRequest`, which the endpoint answers with the "not found" document.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

# The request fields the directory reads, besides the five mod_xml_curl always sends first
# (hostname, section, tag_name, key_name, key_value). freeswitch/conf/autoload_configs/
# xml_curl.conf.xml lists exactly these as ``enable-post-var`` (a test keeps the two in step),
# so FreeSWITCH posts about 20 fields instead of about 170: less for it to build and send, and
# less for us to read. Without that whitelist the directory still works (it reads the same fields).
POSTED_FIELDS = (
    # every lookup
    "Event-Calling-Function", "FreeSWITCH-Hostname", "Unique-ID", "Channel-Call-UUID",
    # section=directory
    "action", "purpose", "profile", "user", "domain", "group", "ip",
    "sip_auth_username", "sip_auth_realm", "sip_auth_method", "sip_auth_uri", "sip_auth_nonce",
    "sip_auth_qop", "sip_auth_nc", "sip_auth_cnonce", "sip_auth_response",
    # section=dialplan
    "Caller-Destination-Number", "Caller-Context", "Caller-Caller-ID-Number", "variable_hibiki_tenant",
    "variable_hibiki_user", "variable_hibiki_forward_hops", "variable_hibiki_transferor",
    "variable_hibiki_route_grant", "variable_hibiki_handoff", "variable_hibiki_did",
)
SECTIONS = frozenset({"configuration", "directory", "dialplan", "phrases", "languages", "chatplan", "channels"})


class BadRequest(ValueError):
    """The body is not a request FreeSWITCH could have sent; the message says why."""


# Fields decoded while parsing (and so checked at once): the ones every answer reads. The
# other ~160 of a dialplan request are decoded when something reads them (a bad one raises
# BadRequest then), which keeps parsing cheap.
EAGER = ("section", "hostname", "tag_name", "key_name", "key_value", "action", "purpose", "user", "domain")


def _decode(key: str, value: str) -> str:
    if "%" in value or "+" in value:
        try:
            value = unquote_plus(value, errors="strict")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"body is not form-encoded: field {key[:40]!r} is not UTF-8 ({exc.reason})") from None
    if "\x00" in value:
        raise BadRequest(f"NUL byte in field {key!r}")
    return value


class FsRequest:
    """One mod_xml_curl request; :meth:`get` returns decoded values (may raise BadRequest)."""

    __slots__ = ("section", "_raw", "_decoded")

    def __init__(self, section: str, fields: dict[str, str] | None = None, *, raw: dict[str, str] | None = None) -> None:
        self.section = section
        self._decoded = dict(fields or {})
        self._raw = raw or {}

    def get(self, name: str, default: str = "") -> str:
        value = self._decoded.get(name)
        if value is None:
            raw = self._raw.get(name)
            if raw is None:
                return default
            value = self._decoded[name] = _decode(name, raw)
        return value

    @property
    def action(self) -> str:
        return self.get("action")

    @property
    def domain(self) -> str:
        return self.get("domain") or (self.get("key_value") if self.get("key_name") == "name" else "")

    @property
    def user(self) -> str:
        return self.get("user")

    @property
    def hostname(self) -> str:
        return self.get("hostname") or self.get("FreeSWITCH-Hostname")


def _fields(text: str) -> dict[str, str]:
    """The raw (still encoded) fields of ``text``; the first of repeated fields wins.

    What FreeSWITCH sends (``switch_url_encode`` escapes ``=`` and ``&`` in values) is split
    with two C-level passes; anything else, e.g. a field without ``=``, takes the slow loop,
    which says what is wrong."""
    flat = text.replace("&", "=").split("=")
    pairs = len(flat) >> 1
    if len(flat) == 2 * (text.count("&") + 1):
        it = iter(flat)
        raw = dict(zip(it, it))
        if len(raw) == pairs:  # no repeated field (a dict keeps the last one)
            return raw
    raw = {}
    for pair in text.split("&"):
        key, sep, value = pair.partition("=")
        if not sep:
            raise BadRequest(f"body is not form-encoded: field {pair[:40]!r} has no '='")
        if key not in raw:  # the first of repeated fields wins
            raw[key] = value
    return raw


def parse(body: bytes) -> FsRequest:
    """Parse a mod_xml_curl POST body; raise :class:`BadRequest` if it is not one.

    Only the fields in :data:`EAGER` are decoded now, the rest when something reads them."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"body is not UTF-8 (byte {exc.start})") from None
    if not text:
        raise BadRequest("empty body")
    raw = _fields(text)
    keys = "".join(raw)
    if "%" in keys or "+" in keys:  # FreeSWITCH does not encode names; others might
        raw = {_decode("field name", key): value for key, value in reversed(raw.items())}
    decoded = {key: _decode(key, raw.pop(key)) for key in EAGER if key in raw}
    section = decoded.get("section", "")
    if not section:
        raise BadRequest("no section field")
    if section not in SECTIONS:
        raise BadRequest(f"unknown section {section!r}")
    return FsRequest(section, decoded, raw=raw)
