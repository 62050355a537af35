"""Tenants and their SIP users.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("domain", sa.String(255), nullable=False, unique=True),
        sa.Column("name", sa.String(255), nullable=False, server_default=""),
        sa.Column("version", sa.BigInteger, nullable=False, server_default="1"),
    )
    op.create_table(
        "sip_users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("a1_hash", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=False, server_default=""),
        sa.Column("extension", sa.String(32), nullable=False, server_default=""),
        sa.Column("context", sa.String(64), nullable=False, server_default="default"),
        sa.UniqueConstraint("tenant_id", "user_id", name="uq_sip_users_tenant_user"),
    )


def downgrade() -> None:
    op.drop_table("sip_users")
    op.drop_table("tenants")
