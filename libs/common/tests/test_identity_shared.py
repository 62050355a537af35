"""The shared halves of console identity: the audit hash chain (hypothesis: any entry altered,
removed or reordered is found), the revocation list (sessions and API tokens refused once
revoked, and while the list is not live), the role rule's aliases."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hibiki.common import audit, roles
from hibiki.common.auth import Claims, InvalidToken, TokenAuthority
from hibiki.common.revocation import user_key

KEY = b"k" * 32
text = st.text(max_size=20)


def chain(entries: list[dict[str, Any]], key: bytes = KEY) -> list[dict[str, Any]]:
    prev, out = audit.GENESIS, []
    for seq, fields in enumerate(entries, start=1):
        row = {**fields, "tenant": "t", "seq": seq, "prev_hash": prev}
        row["hash"] = audit.entry_hash(prev, row, key)
        prev = row["hash"]
        out.append(row)
    return out


entries = st.lists(st.fixed_dictionaries({"actor": text, "action": text, "before": st.none() | text,
                                          "after": st.none() | text, "address": text, "at": text}),
                   min_size=1, max_size=8)


@given(entries)
def test_an_intact_chain_verifies(rows: list[dict[str, Any]]) -> None:
    made = chain(rows)
    assert audit.verify(made, (len(made), made[-1]["hash"]), KEY) == []


@settings(max_examples=200)
@given(entries, st.data())
def test_any_alteration_removal_or_reordering_is_found(rows: list[dict[str, Any]], data: st.DataObject) -> None:
    made = chain(rows)
    head = (len(made), made[-1]["hash"])
    what = data.draw(st.sampled_from(["alter", "remove", "swap", "truncate"]))
    i = data.draw(st.integers(0, len(made) - 1))
    if what == "alter":
        field = data.draw(st.sampled_from(["actor", "action", "before", "after", "address", "at"]))
        new = data.draw(text.filter(lambda v: v != made[i][field]))
        made[i] = {**made[i], field: new}
    elif what == "remove":
        del made[i]
    elif what == "swap":
        if len(made) < 2:
            return
        j = (i + 1) % len(made)
        made[i], made[j] = made[j], made[i]
    else:
        made = made[:i]
    assert audit.verify(made, head, KEY) != []


def test_a_chain_rebuilt_without_the_key_fails() -> None:
    rows = [{"actor": "a", "action": "x"}, {"actor": "b", "action": "y"}]
    forged = chain(rows, key=b"")
    assert audit.verify(forged, (2, forged[-1]["hash"]), KEY) != []


def test_sessions_and_api_tokens_are_refused_until_the_list_is_live_and_once_revoked() -> None:
    authority = TokenAuthority(b"s" * 40)
    session = authority.issue(Claims("sato", "user", "zama", ("admin",), session="sid1"))
    api = authority.issue(Claims("integration:tv", "user", "zama", ("viewer",), token_id="jti1"))
    plain = authority.issue(Claims("sato", "user", "zama", ("admin",)))
    for token in (session, api):
        with pytest.raises(InvalidToken, match="revocation list"):
            authority.verify(token)
    assert authority.verify(plain).subject == "sato"          # hibiki token's: not affected
    authority.revocations.live = True
    assert authority.verify(session).session == "sid1" and authority.verify(api).token_id == "jti1"
    authority.revocations.apply("s.sid1", json.dumps({"until": time.time() + 60}).encode())
    with pytest.raises(InvalidToken, match="session has ended"):
        authority.verify(session)                              # the cached verification does not help
    authority.revocations.apply("t.jti1", json.dumps({"until": time.time() + 60}).encode())
    with pytest.raises(InvalidToken, match="revoked"):
        authority.verify(api)
    older = authority.issue(Claims("kato", "user", "zama", ("viewer",), session="sid2"))
    authority.revocations.apply(user_key("zama", "kato"), json.dumps({"not_before": time.time() + 0.001}).encode())
    time.sleep(0.01)
    newer = authority.issue(Claims("kato", "user", "zama", ("viewer",), session="sid3"))
    with pytest.raises(InvalidToken):
        authority.verify(older)
    assert authority.verify(newer).session == "sid3"


def test_a_ticket_is_never_a_token() -> None:
    authority = TokenAuthority(b"s" * 40)
    ticket = authority.issue_ticket("login", "user-id", 60, tenant="zama")
    with pytest.raises(InvalidToken):
        authority.verify(ticket)
    assert authority.verify_ticket(ticket, "login")["tenant"] == "zama"
    with pytest.raises(InvalidToken):
        authority.verify_ticket(authority.issue(Claims("a", "user")), "login")


@pytest.mark.parametrize("old,new", [("admin", "tenant-admin"), ("platform-admin", "platform-operator")])
def test_older_role_names_mean_the_same(old: str, new: str) -> None:
    tenant = "*" if "platform" in old else "zama"
    a, b = Claims("x", "user", tenant, (old,)), Claims("x", "user", tenant, (new,))
    assert set(a.roles) == set(b.roles) == {old, new}
    for resource in roles.RESOURCES:
        for action in ("read", "write"):
            assert roles.refusal(a, "zama", resource, action) == roles.refusal(b, "zama", resource, action)
