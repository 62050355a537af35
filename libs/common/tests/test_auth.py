from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest

from hibiki.common.auth import Claims, InvalidToken, TokenAuthority, load_authority
from hibiki.common.config import Env
from hibiki.common.errors import ConfigError

SECRET = b"s" * 40


def test_round_trip_keeps_every_claim() -> None:
    authority = TokenAuthority(SECRET)
    claims = Claims("alice", "user", "nagaoka", ("admin", "recording-admin"))
    assert authority.verify(authority.issue(claims)) == claims
    assert authority.verify_header("Bearer " + authority.issue(claims)) == claims


def test_other_secret_expired_and_malformed_tokens_are_refused() -> None:
    authority = TokenAuthority(SECRET)
    foreign = TokenAuthority(b"o" * 40).issue(Claims("mallory", "service"))
    with pytest.raises(InvalidToken, match="Signature"):
        authority.verify(foreign)
    expired = jwt.encode({"iss": "hibiki", "sub": "a", "kind": "user", "exp": int(time.time()) - 10}, SECRET, "HS256")
    with pytest.raises(InvalidToken, match="expired"):
        authority.verify(expired)
    wrong_kind = jwt.encode({"iss": "hibiki", "sub": "a", "kind": "root", "exp": int(time.time()) + 60}, SECRET, "HS256")
    with pytest.raises(InvalidToken, match="kind"):
        authority.verify(wrong_kind)
    for header in (None, "", "Basic abc", "Bearer ", "Bearer not.a.jwt"):
        with pytest.raises(InvalidToken):
            authority.verify_header(header)


def test_tenant_scope() -> None:
    assert Claims("s", "service").may_act_for("any")
    assert Claims("u", "user", "shiojiri").may_act_for("shiojiri")
    assert not Claims("u", "user", "shiojiri").may_act_for("nagaoka")


def test_short_secret_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        TokenAuthority(b"short")


def test_embedded_secret_is_created_once_and_reused(tmp_path: Path) -> None:
    first = load_authority(Env.load("", {}), tmp_path)
    token = first.issue(Claims("svc", "service"))
    assert (tmp_path / "auth.secret").stat().st_mode & 0o777 == 0o600
    second = load_authority(Env.load("", {}), tmp_path)
    assert second.verify(token).subject == "svc"
    with pytest.raises(ConfigError, match="does not exist"):
        load_authority(Env.load("", {"HIBIKI_AUTH_SECRET_FILE": str(tmp_path / "missing")}), tmp_path)


def test_a_verified_token_is_remembered_but_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    authority = TokenAuthority(b"s" * 32)
    token = authority.issue(Claims("callcontrol", "service"), ttl_seconds=60)
    assert authority.verify(token).subject == "callcontrol"
    assert authority.verify(token).subject == "callcontrol"          # from the cache
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(InvalidToken):
        authority.verify(tampered)                                   # a different string: checked
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(InvalidToken):
        authority.verify(token)                                      # expired, cached or not
