"""The XML we hand FreeSWITCH is always well-formed and carries exactly the values given."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from hibiki.directory import documents

ILLEGAL = set(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r") | {"\ufffe", "\uffff"}
text = st.text(max_size=60)


def clean(value: str) -> str:
    return "".join(c for c in value if c not in ILLEGAL)


def test_not_found_is_freeswitchs_exact_document() -> None:
    assert documents.NOT_FOUND == (
        '<document type="freeswitch/xml"><section name="result"><result status="not found"/></section></document>'
    )


@given(domain=text, user=text, name=text, extra=st.dictionaries(text, text, max_size=4))
def test_directory_user_cannot_be_broken_by_any_value(domain: str, user: str, name: str, extra: dict[str, str]) -> None:
    variables = {"effective_caller_id_name": name, **extra}
    doc = ET.fromstring(documents.directory_user(domain, user, {"a1-hash": "0" * 32}, variables))
    assert doc.tag == "document" and doc.get("type") == "freeswitch/xml"
    sections = doc.findall("section")
    assert [s.get("name") for s in sections] == ["directory"]
    domains = doc.findall("./section/domain")
    assert len(domains) == 1 and domains[0].get("name") == clean(domain)
    users = doc.findall(".//user")
    assert len(users) == 1 and users[0].get("id") == clean(user)
    got = {v.get("name"): v.get("value") for v in users[0].findall("./variables/variable")}
    assert got == {clean(k): clean(v) for k, v in variables.items()}


def test_injection_attempt_stays_an_attribute_value() -> None:
    evil = '"/><user id="intruder"><params><param name="password" value="x"/></params></user><x a="'
    doc = ET.fromstring(documents.directory_user("t.example", "1000", {"a1-hash": "f" * 32},
                                                 {"effective_caller_id_name": evil}))
    assert [u.get("id") for u in doc.iter("user")] == ["1000"]
    assert doc.find(".//variable").get("value") == evil
