"""mod_xml_curl's ``enable-post-var`` whitelist, as FreeSWITCH 1.10 applies it.

``xml_url_fetch`` (mod_xml_curl.c) always starts the body with
``hostname=..&section=..&tag_name=..&key_name=..&key_value=..``; then
``switch_event_build_param_string`` (switch_event.c) appends the event headers, and when the
binding has ``enable-post-var`` params only the headers named there (exact, case-sensitive
names: ``switch_core_hash_find``) are appended, in event order.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

PREFIX_FIELDS = 5  # hostname, section, tag_name, key_name, key_value: always sent


def whitelist(config: Path, binding: str | None = None) -> tuple[str, ...]:
    """The ``enable-post-var`` values of a ``xml_curl.conf.xml`` binding (the first one by default)."""
    root = ET.parse(config).getroot()
    for node in root.iter("binding"):
        if binding is None or node.get("name") == binding:
            return tuple(p.get("value", "") for p in node.iter("param") if p.get("name") == "enable-post-var")
    raise LookupError(f"no binding {binding!r} in {config}")


def filter_body(body: bytes, allowed: Iterable[str]) -> bytes:
    """``body`` as FreeSWITCH would have posted it with these ``enable-post-var`` names."""
    keep = set(allowed)
    if not keep:  # no whitelist: every header is posted
        return body
    fields = body.split(b"&")
    head, rest = fields[:PREFIX_FIELDS], fields[PREFIX_FIELDS:]
    return b"&".join(head + [f for f in rest if f.partition(b"=")[0].decode() in keep])
