"""The recording domain's pieces through their own interfaces: the envelope, the key store and its
rotation, range requests, retention rules and the role x action matrix (REC-06)."""

from __future__ import annotations

import secrets
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from hypothesis import given
from hypothesis import strategies as st

from hibiki.common.auth import Claims
from hibiki.recording.domain import access, envelope
from hibiki.recording.domain.retention import BadRetention, Retention
from hibiki.recording.http import ranges
from hibiki.recording.storage.keys import KeyStore, load_master_key

KEY = bytes(range(32))


@given(st.binary(max_size=4096), st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
def test_seal_then_open_round_trips(plain: bytes, tenant: str, rid: str) -> None:
    aad = envelope.associated(tenant, rid)
    blob = envelope.seal(plain, "k1", KEY, aad)
    assert envelope.key_id_of(blob) == "k1"
    assert envelope.open_sealed(blob, {"k1": KEY}.__getitem__, aad) == plain


@given(st.binary(max_size=300))
def test_opening_any_bytes_either_succeeds_or_is_refused(blob: bytes) -> None:
    try:
        envelope.open_sealed(blob, {"k1": KEY}.__getitem__, b"t/r")
    except envelope.Undecryptable:
        pass


@given(st.binary(min_size=1, max_size=200), st.data())
def test_any_altered_byte_is_refused(plain: bytes, data: st.DataObject) -> None:
    blob = bytearray(envelope.seal(plain, "k1", KEY, b"t/r"))
    at = data.draw(st.integers(0, len(blob) - 1))
    blob[at] ^= data.draw(st.integers(1, 255))
    with pytest.raises(envelope.Undecryptable):
        envelope.open_sealed(bytes(blob), {"k1": KEY}.__getitem__, b"t/r")


def test_a_blob_copied_to_another_recording_or_tenant_does_not_open() -> None:
    blob = envelope.seal(b"audio", "k1", KEY, envelope.associated("zama", "r1"))
    for tenant, rid in (("zama", "r2"), ("toshima", "r1")):
        with pytest.raises(envelope.Undecryptable):
            envelope.open_sealed(blob, {"k1": KEY}.__getitem__, envelope.associated(tenant, rid))


def test_rotation_keeps_old_recordings_readable(tmp_path: Path) -> None:
    master_file = tmp_path / "master.key"
    store = KeyStore(tmp_path / "keys", load_master_key(None, master_file))
    assert stat.S_IMODE(master_file.stat().st_mode) == 0o600
    old_id, old_key = store.current("zama")
    old = envelope.seal(b"before", old_id, old_key, b"zama/r1")
    new_id, new_key = store.rotate("zama")
    assert new_id != old_id and new_key != old_key
    # a fresh process: keys come from disk, unwrapped by the master key
    again = KeyStore(tmp_path / "keys", load_master_key(None, master_file))
    assert again.current("zama")[0] == new_id
    assert envelope.open_sealed(old, lambda k: again.key("zama", k), b"zama/r1") == b"before"
    assert sorted(again.key_ids("zama")) == sorted([old_id, new_id])
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in (tmp_path / "keys" / "zama").glob("*.key"))
    # another tenant cannot name zama's key; another master key opens nothing
    with pytest.raises(KeyError):
        again.key("toshima", old_id)
    with pytest.raises(KeyError):
        KeyStore(tmp_path / "keys", bytes(32)).key("zama", old_id)
    with pytest.raises(KeyError):
        again.key("zama", "../../master")


def test_the_master_key_rotates_with_the_previous_one(tmp_path: Path) -> None:
    """Master key rotation (deploy/k8s/README.md): the new master with the previous one reads every
    key and rewraps each still under the previous; then the new master alone reads them all; a
    rewrap run again changes nothing; a key that neither opens is refused, not guessed."""
    old_master, new_master = secrets.token_bytes(32), secrets.token_bytes(32)
    before = KeyStore(tmp_path / "keys", old_master)
    sealed = {}
    for tenant in ("zama", "toshima"):
        for _ in range(2):
            key_id, key = before.rotate(tenant)
            sealed[(tenant, key_id)] = envelope.seal(tenant.encode(), key_id, key, tenant.encode())
    assert KeyStore(tmp_path / "keys", new_master).key_ids("zama")
    with pytest.raises(KeyError):
        KeyStore(tmp_path / "keys", new_master).key("zama", next(k for t, k in sealed if t == "zama"))
    during = KeyStore(tmp_path / "keys", new_master, old_master)
    assert all(envelope.open_sealed(b, lambda k, t=t: during.key(t, k), t.encode()) == t.encode()
               for (t, _), b in sealed.items())
    assert during.rewrap() == (4, 0)
    assert KeyStore(tmp_path / "keys", new_master, old_master).rewrap() == (0, 4)
    after = KeyStore(tmp_path / "keys", new_master)
    assert all(envelope.open_sealed(b, lambda k, t=t: after.key(t, k), t.encode()) == t.encode()
               for (t, _), b in sealed.items())
    with pytest.raises(KeyError):
        KeyStore(tmp_path / "keys", old_master).key("zama", next(k for t, k in sealed if t == "zama"))
    assert not list((tmp_path / "keys").rglob("*.tmp"))
    with pytest.raises(InvalidTag):
        KeyStore(tmp_path / "keys", secrets.token_bytes(32), secrets.token_bytes(32)).rewrap()
    print("master key rotation: 4 data keys of 2 tenants rewrapped, every recording readable with the new key alone")


def _reference(header: str, size: int) -> tuple[int, int]:
    first, last = header.removeprefix("bytes=").split("-")
    if not first:
        return max(0, size - int(last)), size - 1
    return int(first), min(int(last), size - 1) if last else size - 1


@given(st.integers(1, 10_000), st.data())
def test_ranges_answer_the_bytes_asked_within_the_body(size: int, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, size + 5))
    end = data.draw(st.one_of(st.none(), st.integers(0, size + 5)))
    suffix = data.draw(st.booleans())
    header = f"bytes=-{end or 1}" if suffix else f"bytes={start}-{'' if end is None else end}"
    try:
        span = ranges.parse(header, size)
    except ranges.Unsatisfiable:
        assert not suffix and (start >= size or (end is not None and end < start))
        return
    assert span is not None and span == _reference(header, size)
    assert 0 <= span[0] <= span[1] < size


@given(st.text(max_size=60))
def test_any_range_header_is_a_span_none_or_unsatisfiable(header: str) -> None:
    try:
        span = ranges.parse(header, 1000)
    except ranges.Unsatisfiable:
        return
    assert span is None or 0 <= span[0] <= span[1] < 1000


def test_retention_rules() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rules = Retention.parse("default=1095, toshima=after-handling, zama=30")
    assert rules.rule("kanazawa").deadline(start) == start + timedelta(days=1095)
    assert rules.rule("zama").deadline(start) == start + timedelta(days=30)
    assert rules.rule("toshima").after_handling
    handled = start + timedelta(minutes=5)
    assert rules.rule("toshima").deadline(start, handled) == handled
    assert Retention.parse("").rule("x").deadline(start) == start + timedelta(days=1095)
    for bad in ("zama", "zama=0", "zama=forever", "za.ma=1", "x=1;drop"):
        with pytest.raises(BadRetention):
            Retention.parse(bad)


MATRIX = {  # roles -> actions allowed on its own tenant
    ("recording-admin",): {"search", "show", "play", "download", "delete", "audit", "rotate-key", "scores", "forms",
                           "evaluate"},
    ("recording-viewer",): {"search", "show", "play", "download", "scores"},
    ("recording-viewer", "supervisor"): {"search", "show", "play", "download", "scores", "evaluate"},
    ("auditor",): {"audit"},
    ("admin",): set(),
    ("viewer",): set(),
    ("agent",): set(),
    ("supervisor",): set(),
    ("admin", "viewer"): set(),
    ("admin", "supervisor", "auditor"): {"audit"},
}
ACTIONS = sorted(access.READ_ACTIONS | access.ADMIN_ACTIONS)


def test_role_by_action_matrix() -> None:
    """REC-06: recording roles only; the configuration administrator may not touch recordings, the
    recording administrator may not change telephony configuration (Claims.refusal, which the
    directory and the ACD apply, wants admin)."""
    walked = 0
    for roles, allowed in MATRIX.items():
        own = Claims("u1", "user", "zama", roles)
        other = Claims("u1", "user", "toshima", roles)
        for action in ACTIONS:
            assert (access.refusal(own, "zama", action) is None) == (action in allowed), (roles, action)
            assert access.refusal(other, "zama", action) is not None
            walked += 2
    for roles in (("platform-admin",),):
        assert all(access.refusal(Claims("root", "user", "*", roles), "zama", a) for a in ACTIONS)
    assert all(access.refusal(Claims("svc", "service", "*"), "zama", a) is None for a in ACTIONS)
    rec_admin = Claims("r", "user", "zama", ("recording-admin",))
    assert rec_admin.refusal("zama", write=True) is not None and rec_admin.refusal("zama", write=False) is not None
    print(f"role x action matrix: {walked} cells")
