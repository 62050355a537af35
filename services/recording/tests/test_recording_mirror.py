"""The mirrored recording store (``HIBIKI_RECORDING_STORE_MIRROR_URL``, issue 16): two real stores,
one per data center, made unreachable for real (the store's directory replaced by a file, as a disk
gone or unmounted), and the data keys kept in both."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hibiki.common.errors import ConfigError
from hibiki.recording.domain import envelope
from hibiki.recording.storage.blobs import LocalBlobs, MirroredBlobs, StoreUnavailable, copies, open_store
from hibiki.recording.storage.keys import KeyStore
from hibiki.recording.storage.repair import MirrorRepair

KEYS = ("t/2026/12/07/r1.ogg.hbr", "t/2026/12/07/r2.ogg.hbr", "u/2026/12/08/r3.ogg.hbr")


class Site:
    """One data center's store: a real directory, taken down by moving it away and leaving a file
    in its place (every call then fails as on a lost disk), brought back by moving it back."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True)
        self.root, self.store = root, LocalBlobs(root)

    @property
    def down(self) -> bool:
        return self.root.is_file()

    def fail(self) -> None:
        if not self.down:
            self.root.rename(self.root.with_name(self.root.name + ".away"))
            self.root.write_text("unreachable")

    def recover(self) -> None:
        if self.down:
            self.root.unlink()
            self.root.with_name(self.root.name + ".away").rename(self.root)


def sites(base: Path) -> tuple[Site, Site, MirroredBlobs]:
    a, b = Site(base / "dc1"), Site(base / "dc2")
    return a, b, MirroredBlobs(a.store, b.store)


OPS = st.lists(st.one_of(
    st.tuples(st.just("put"), st.sampled_from(KEYS), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.sampled_from(KEYS), st.none()),
    st.tuples(st.just("get"), st.sampled_from(KEYS), st.none()),
    st.tuples(st.sampled_from(["fail", "recover"]), st.sampled_from([0, 1]), st.none()),
    st.tuples(st.just("repair"), st.none(), st.none()),
), max_size=40)


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_any_puts_and_deletes_with_a_side_down_converge_after_repair_and_never_read_a_wrong_blob(ops: list) -> None:
    """The model: ``acked`` is what the last acknowledged put or delete of each key left (None: no
    object); ``maybe`` the outcomes of the failed ones since (a failed put may have landed on one
    side, a failed delete removed one side). A read answers ``acked`` or one of ``maybe``, never an
    older object nor one acknowledged as deleted; after both sides are back and repaired, both hold
    the same objects and every key reads as acknowledged (or as a later unacknowledged attempt)."""
    with tempfile.TemporaryDirectory() as tmp:
        pair = sites(Path(tmp))
        a, b, mirrored = pair
        acked: dict[str, bytes | None] = dict.fromkeys(KEYS)
        maybe: dict[str, set[bytes | None]] = {k: set() for k in KEYS}

        def allowed(key: str) -> set[bytes | None]:
            return {acked[key], *maybe[key]}

        for op, arg, value in ops:
            if op in ("fail", "recover"):
                getattr((a, b)[arg], op)()
            elif op == "put":
                try:
                    mirrored.put(arg, value)
                except StoreUnavailable:
                    assert a.down or b.down
                    maybe[arg].add(value)
                else:
                    assert not (a.down or b.down), "acknowledged with a side down"
                    acked[arg], maybe[arg] = value, set()
            elif op == "delete":
                try:
                    mirrored.delete(arg)
                except StoreUnavailable:
                    assert a.down or b.down
                    maybe[arg].add(None)
                else:
                    acked[arg], maybe[arg] = None, set()
            elif op == "get":
                try:
                    got = mirrored.get(arg)
                except StoreUnavailable:
                    assert a.down or b.down
                else:
                    assert got in allowed(arg), f"{arg}: read {got!r}, acknowledged {acked[arg]!r}"
                    if not maybe[arg] and acked[arg] is not None:
                        assert got == acked[arg]
            else:
                try:
                    mirrored.repair()
                except StoreUnavailable:
                    assert a.down or b.down
        a.recover()
        b.recover()
        mirrored.repair(deep=True)
        assert a.store.keys("") == b.store.keys("")
        for key in KEYS:
            assert a.store.get(key) == b.store.get(key)
            got = mirrored.get(key)
            assert got in allowed(key)
            if not maybe[key]:
                assert got == acked[key]


def test_one_side_down_refuses_to_acknowledge_and_reads_fall_back(tmp_path: Path) -> None:
    a, b, mirrored = sites(tmp_path)
    mirrored.put(KEYS[0], b"both")
    b.fail()
    with pytest.raises(StoreUnavailable, match="dc2"):
        mirrored.put(KEYS[1], b"only dc1")
    assert a.store.get(KEYS[1]) == b"only dc1"      # the half that landed, not acknowledged
    with pytest.raises(StoreUnavailable):
        copies(mirrored, KEYS[1])                     # the pipeline's check: every copy or nothing
    with pytest.raises(StoreUnavailable):
        mirrored.delete(KEYS[0])
    with pytest.raises(StoreUnavailable):
        mirrored.keys("")
    assert mirrored.get(KEYS[1]) == b"only dc1"
    b.recover()
    a.fail()
    assert mirrored.get(KEYS[0]) == b"both"         # the delete was not acknowledged: dc2 still has it
    with pytest.raises(StoreUnavailable):
        mirrored.get(KEYS[1])                         # dc2 has no copy and dc1 cannot say: not "missing"
    a.recover()
    assert mirrored.repair() == 2                     # KEYS[1] to dc2, KEYS[0] back to dc1
    assert copies(mirrored, KEYS[1]) == [b"only dc1", b"only dc1"]
    assert mirrored.keys("t/") == [KEYS[0], KEYS[1]]
    mirrored.delete(KEYS[0])
    assert copies(mirrored, KEYS[0]) == [None, None]


def test_a_store_rebuilt_empty_is_filled_again_by_repair(tmp_path: Path) -> None:
    a, b, mirrored = sites(tmp_path)
    for n, key in enumerate(KEYS):
        mirrored.put(key, bytes([n]) * 100)
    shutil.rmtree(a.root)                           # dc1's store lost, rebuilt empty
    assert [mirrored.get(k) for k in KEYS] == [bytes([n]) * 100 for n in range(3)]
    assert mirrored.repair() == 3
    assert [a.store.get(k) for k in KEYS] == [bytes([n]) * 100 for n in range(3)]
    assert mirrored.repair() == 0


def test_mirror_url_is_checked(tmp_path: Path) -> None:
    assert isinstance(open_store("", "", tmp_path), LocalBlobs)
    mirrored = open_store("", f"file://{tmp_path / 'other'}", tmp_path)
    assert isinstance(mirrored, MirroredBlobs) and mirrored.mirror.name == f"file://{tmp_path / 'other'}"
    for bad in ("http://elsewhere/x", "s3://", f"file://{tmp_path}", "no-scheme"):
        with pytest.raises(ConfigError, match="HIBIKI_RECORDING_STORE_MIRROR_URL"):
            open_store(f"file://{tmp_path}", bad, tmp_path)


def test_data_keys_are_in_both_stores_before_use_and_open_in_the_other_site(tmp_path: Path) -> None:
    master = secrets.token_bytes(32)
    a, b, dc1_blobs = sites(tmp_path)
    dc1 = KeyStore(tmp_path / "dc1-keys", master, replica=dc1_blobs)
    key_id, key = dc1.current("zama")
    blob = envelope.seal(b"audio", key_id, key, envelope.associated("zama", "r1"))
    dc1_blobs.put("zama/2026/12/07/r1.ogg.hbr", blob)
    assert copies(dc1_blobs, KeyStore.replica_key("zama", key_id)) == [
        (tmp_path / "dc1-keys" / "zama" / f"{key_id}.key").read_bytes()] * 2

    b.fail()                                        # no new key while the other site cannot take it
    with pytest.raises(StoreUnavailable):
        dc1.rotate("zama")
    assert dc1.current("zama")[0] == key_id
    b.recover()

    shutil.rmtree(tmp_path / "dc1-keys")            # dc1 lost: its keys directory and its store
    a.fail()
    dc2 = KeyStore(tmp_path / "dc2-keys", master, replica=MirroredBlobs(b.store, a.store))
    stored = dc2._replica.get("zama/2026/12/07/r1.ogg.hbr") if dc2._replica else None
    assert stored is not None
    assert envelope.open_sealed(stored, lambda k: dc2.key("zama", k), envelope.associated("zama", "r1")) == b"audio"
    with pytest.raises(KeyError):
        KeyStore(tmp_path / "dc2-keys", secrets.token_bytes(32), replica=MirroredBlobs(b.store, a.store)).key(
            "zama", key_id)                          # another master key: refused, not garbage


def test_keys_made_before_the_mirror_are_published_and_shredding_removes_every_copy(tmp_path: Path) -> None:
    master = secrets.token_bytes(32)
    alone = KeyStore(tmp_path / "keys", master)
    old_id, _ = alone.current("zama")
    alone.current("toshima")
    a, b, mirrored = sites(tmp_path)
    keys = KeyStore(tmp_path / "keys", master, replica=mirrored)
    repair = MirrorRepair(mirrored, keys, 1.0)
    b.fail()
    with pytest.raises(StoreUnavailable):
        repair.once()
    b.recover()
    assert repair.once() == (2, 0)
    assert repair.once() == (0, 0)
    assert b.store.keys("_keys/zama/") == [KeyStore.replica_key("zama", old_id)]

    b.fail()                                        # security fails closed: nothing shredded half
    with pytest.raises(StoreUnavailable):
        keys.shred("zama")
    assert keys.key_ids("zama") == [old_id]
    b.recover()
    assert keys.shred("zama") == 1
    assert mirrored.keys("_keys/zama/") == [] and mirrored.keys("_keys/toshima/") != []
