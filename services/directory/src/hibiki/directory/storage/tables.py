"""Tables of the configuration store (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Integer, MetaData, String, Table, UniqueConstraint

metadata = MetaData()

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("domain", String(255), nullable=False, unique=True),
    Column("name", String(255), nullable=False, default=""),
    Column("version", BigInteger, nullable=False, default=1),
)

sip_users = Table(
    "sip_users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("a1_hash", String(64), nullable=False),
    Column("display_name", String(255), nullable=False, default=""),
    Column("extension", String(32), nullable=False, default=""),
    Column("context", String(64), nullable=False, default="default"),
    UniqueConstraint("tenant_id", "user_id", name="uq_sip_users_tenant_user"),
)
