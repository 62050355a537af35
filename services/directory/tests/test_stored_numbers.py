"""Representative and direct numbers stored as typed (before they were normalized like DIDs)
are normalized when the store opens, and one that cannot be a caller ID never reaches FreeSWITCH."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update

from hibiki.directory.schemas import UserIn
from hibiki.directory.storage.database import load_tenants, open_store
from hibiki.directory.storage.repository import ConfigRepository
from hibiki.directory.storage.tables import tenants, users


def test_numbers_stored_as_typed_are_normalized_on_open_and_bad_ones_kept_out_of_calls(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    engine = open_store(url)
    repo = ConfigRepository(engine)
    repo.create_tenant({"id": "zama", "domain": "zama.example.jp"})
    sato, _ = repo.create(users, "zama", UserIn(username="sato", extension="2001").model_dump())
    kato, _ = repo.create(users, "zama", UserIn(username="kato", extension="2002").model_dump())
    with engine.begin() as conn:   # what an older directory stored, as the administrator typed it
        conn.execute(update(tenants).where(tenants.c.id == "zama").values(representative_number="046-251-1111"))
        conn.execute(update(users).where(users.c.id == sato["id"]).values(direct_number="+81 46 251 2001"))
        conn.execute(update(users).where(users.c.id == kato["id"]).values(direct_number="046-251-2002 内線"))
    engine.dispose()

    engine = open_store(url)       # the next start of the directory
    with engine.connect() as conn:
        assert conn.execute(select(tenants.c.representative_number)).scalar_one() == "0462511111"
        assert dict(conn.execute(select(users.c.username, users.c.direct_number)).all()) == {
            "sato": "0462512001", "kato": "046-251-2002 内線"}   # left for an administrator to correct
    view = load_tenants(engine, "zama")[0]
    assert view.representative_number == "0462511111"
    assert {u.username: u.direct_number for u in view.users.values()} == {"sato": "0462512001", "kato": ""}
    engine.dispose()
