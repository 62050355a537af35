"""Opening the store, migrating it to the newest schema, and compiling tenants for the view."""

from __future__ import annotations

import hashlib
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.exc import SQLAlchemyError

from hibiki.common.errors import StartupError
from hibiki.directory.storage.tables import sip_users, tenants
from hibiki.directory.view import SipUser, TenantView

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def open_store(url: str) -> Engine:
    """Engine for the store, migrated to head; a clear :class:`StartupError` if it cannot be."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        engine = create_engine(url, future=True, pool_pre_ping=True)
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        migrate(engine)
    except SQLAlchemyError as exc:
        raise StartupError(f"configuration store {engine_safe(url)}: {exc.__class__.__name__}: {exc.args[0] if exc.args else exc}") from None
    return engine


def engine_safe(url: str) -> str:
    """The URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<malformed database URL>"


def _sqlite_pragmas(dbapi_connection: object, _: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def migrate(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def a1_hash(user_id: str, realm: str, password: str) -> str:
    """md5(user:realm:password), the only form of a SIP password the directory hands out."""
    return hashlib.md5(f"{user_id}:{realm}:{password}".encode()).hexdigest()  # noqa: S324 (SIP digest)


def load_tenants(engine: Engine, tenant_id: str | None = None) -> list[TenantView]:
    """Compile one tenant (or all) from the store."""
    with engine.connect() as conn:
        query = select(tenants)
        if tenant_id is not None:
            query = query.where(tenants.c.id == tenant_id)
        rows = conn.execute(query).mappings().all()
        users_query = select(sip_users)
        if tenant_id is not None:
            users_query = users_query.where(sip_users.c.tenant_id == tenant_id)
        by_tenant: dict[str, dict[str, SipUser]] = {}
        for u in conn.execute(users_query).mappings():
            by_tenant.setdefault(u["tenant_id"], {})[u["user_id"]] = SipUser(
                u["user_id"], u["a1_hash"], u["display_name"], u["extension"], u["context"]
            )
    return [TenantView(r["id"], r["domain"], int(r["version"]), by_tenant.get(r["id"], {})) for r in rows]
