"""What FreeSWITCH asks over mod_xml_curl, parsed and checked.

FreeSWITCH POSTs ``application/x-www-form-urlencoded`` fields: ``section``,
``tag_name``, ``key_name``, ``key_value`` and the event headers of the lookup
(``Event-Calling-Function``, ``action``, ``user``, ``domain``, ``purpose``,
``Caller-Destination-Number`` ...). Anything we cannot read is a
:class:`BadRequest`, which the endpoint answers with the "not found" document.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

SECTIONS = frozenset({"configuration", "directory", "dialplan", "phrases", "languages", "chatplan", "channels"})


class BadRequest(ValueError):
    """The body is not a request FreeSWITCH could have sent; the message says why."""


@dataclass(frozen=True)
class FsRequest:
    section: str
    fields: dict[str, str]

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)

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


def parse(body: bytes) -> FsRequest:
    """Parse a mod_xml_curl POST body; raise :class:`BadRequest` if it is not one."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"body is not UTF-8 (byte {exc.start})") from None
    if not text:
        raise BadRequest("empty body")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, encoding="utf-8", errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"body is not form-encoded: {exc}") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if "\x00" in key or "\x00" in value:
            raise BadRequest(f"NUL byte in field {key!r}")
        fields.setdefault(key, value)
    section = fields.get("section", "")
    if not section:
        raise BadRequest("no section field")
    if section not in SECTIONS:
        raise BadRequest(f"unknown section {section!r}")
    return FsRequest(section, fields)
