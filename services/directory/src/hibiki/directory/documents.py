"""The XML documents FreeSWITCH accepts from mod_xml_curl.

Values are escaped for XML attributes and stripped of characters XML 1.0 cannot
carry, so no caller name or domain can break the document or inject elements.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from xml.sax.saxutils import quoteattr

NOT_FOUND = (
    '<document type="freeswitch/xml"><section name="result">'
    '<result status="not found"/></section></document>'
)
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SPECIAL = re.compile("[\x00-\x1f\"&'<>\ufffe\uffff]")   # anything quoteattr or the XML check would touch


def attr(value: str) -> str:
    """A quoted, escaped XML attribute value (newlines and tabs as character references)."""
    if _SPECIAL.search(value) is None:  # the common case: nothing to escape or strip
        return f'"{value}"'
    return quoteattr(_ILLEGAL_XML.sub("", value), {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def _pairs(tag: str, items: Mapping[str, str]) -> str:
    return "".join(f"<{tag} name={attr(k)} value={attr(v)}/>" for k, v in items.items())


def directory_user(
    domain: str,
    user_id: str,
    params: Mapping[str, str],
    variables: Mapping[str, str],
    domain_params: Mapping[str, str] | None = None,
    cacheable: int | None = None,
) -> str:
    """One user of one domain, in the shape mod_sofia and user_call read."""
    cache = f" cacheable={attr(str(cacheable))}" if cacheable else ""
    dparams = f"<params>{_pairs('param', domain_params)}</params>" if domain_params else ""
    return (
        '<document type="freeswitch/xml"><section name="directory">'
        f"<domain name={attr(domain)}>{dparams}<groups><group name=\"default\"><users>"
        f"<user id={attr(user_id)}{cache}><params>{_pairs('param', params)}</params>"
        f"<variables>{_pairs('variable', variables)}</variables></user>"
        "</users></group></groups></domain></section></document>"
    )


def directory_group(domain: str, group: str, members: Iterable[tuple[str, Mapping[str, str]]],
                    domain_params: Mapping[str, str] | None = None) -> str:
    """One group of one domain with its users' params, in the shape ``group_call`` reads."""
    dparams = f"<params>{_pairs('param', domain_params)}</params>" if domain_params else ""
    users = "".join(f"<user id={attr(uid)}><params>{_pairs('param', params)}</params></user>" for uid, params in members)
    return (
        '<document type="freeswitch/xml"><section name="directory">'
        f"<domain name={attr(domain)}>{dparams}<groups><group name={attr(group)}><users>{users}</users></group>"
        "</groups></domain></section></document>"
    )


def dialplan(context: str, extensions: Iterable[str]) -> str:
    """A dialplan section with one context and pre-rendered ``<extension>`` elements."""
    return (
        '<document type="freeswitch/xml"><section name="dialplan">'
        f"<context name={attr(context)}>{''.join(extensions)}</context></section></document>"
    )
