"""hibiki.common.clickhouse_server, the connection analytics and the recording index share, against
Debian's clickhouse-server (18.16): the URL's database checked, a server's error passed on as it is,
a server that is gone raised as the caller's own "unavailable" (a startup as StartupError), and the
driver back on the next call once the server is up again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from clickhouse_driver.errors import ServerException

from hibiki.common.clickhouse_server import ServerConnection, insert_quorum, utc
from hibiki.common.errors import ConfigError, StartupError
from support.clickhouse_server import ClickHouseServer, binary
from support.servers import free_port


class Gone(Exception):
    pass


def connect(url: str, quorum: int = 0) -> ServerConnection:
    return ServerConnection(url, database="hibiki", variable="HIBIKI_X_URL", unavailable=Gone, insert_quorum=quorum)


def test_the_url_names_the_services_database_or_none() -> None:
    connect("clickhouse://127.0.0.1:9000/hibiki").close()
    connect("clickhouse://127.0.0.1:9000").close()
    with pytest.raises(ConfigError, match="HIBIKI_X_URL: the database is 'hibiki', not 'other'"):
        connect("clickhouse://127.0.0.1:9000/other")


def test_nothing_listening_is_unavailable_and_a_startup_error() -> None:
    server = connect(f"clickhouse://127.0.0.1:{free_port()}/hibiki")
    with pytest.raises(Gone, match="ClickHouse at 127.0.0.1"):
        server.execute("SELECT 1")
    with pytest.raises(StartupError, match="the index: ClickHouse at 127.0.0.1"):
        server.version("the index")


def test_a_quorum_needs_a_cluster() -> None:
    assert insert_quorum(0, "", "HIBIKI_X_QUORUM") == 0
    assert insert_quorum(2, "hibiki", "HIBIKI_X_QUORUM") == 2
    with pytest.raises(ConfigError, match="HIBIKI_X_QUORUM=2"):
        insert_quorum(2, "", "HIBIKI_X_QUORUM")


def test_datetimes_read_back_are_utc_also_inside_arrays() -> None:
    naive = datetime(2026, 12, 7, 9, 0)
    assert utc(naive) == naive.replace(tzinfo=UTC)
    assert utc([naive, "x"]) == [naive.replace(tzinfo=UTC), "x"]
    assert utc((1, naive)) == (1, naive.replace(tzinfo=UTC))


@pytest.fixture
def clickhouse(tmp_path: Path) -> Iterator[ClickHouseServer]:
    if binary() is None:
        pytest.skip("Debian's clickhouse-server is not installed")
    server = ClickHouseServer(tmp_path / "clickhouse")
    server.start()
    yield server
    server.kill()


@pytest.mark.clickhouse_server
def test_a_server_error_passes_and_a_lost_server_comes_back(clickhouse: ClickHouseServer) -> None:
    server = connect(clickhouse.url)
    assert server.version("x").count(".") >= 2      # e.g. 18.16.1
    with pytest.raises(ServerException):
        server.execute("SELECT no_such_column FROM system.one")
    assert server.rows("SELECT toDateTime('2026-12-07 09:00:00', 'UTC')") == [(datetime(2026, 12, 7, 9, tzinfo=UTC),)]
    server.execute("CREATE TABLE default.t (n UInt8) ENGINE = Memory")
    server.execute("INSERT INTO default.t (n) VALUES", [(1,), (2,)])
    server.execute("INSERT INTO default.t (n) VALUES", [[3, 4]], columnar=True)
    assert server.rows("SELECT sum(n) FROM default.t") == [(10,)]
    clickhouse.kill()
    with pytest.raises(Gone):
        server.execute("SELECT 1")
    clickhouse.start()
    assert server.rows("SELECT 1") == [(1,)]
    server.close()
