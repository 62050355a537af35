"""Carrier gateways served to mod_sofia from the store (purpose=gateways).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateways",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_gateways_tenant_id_tenants"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("profile", sa.String(64), nullable=False),
        sa.Column("proxy", sa.String(255), nullable=False),
        sa.Column("port", sa.Integer, nullable=True),
        sa.Column("realm", sa.String(255), nullable=False),
        sa.Column("transport", sa.String(8), nullable=False),
        sa.Column("username", sa.String(128), nullable=False),
        sa.Column("password", sa.String(128), nullable=False),
        sa.Column("register", sa.Boolean, nullable=False),
        sa.Column("expire_seconds", sa.Integer, nullable=False),
        sa.Column("caller_id_in_from", sa.Boolean, nullable=False),
        sa.Column("from_user", sa.String(128), nullable=False),
        sa.Column("from_domain", sa.String(255), nullable=False),
        sa.Column("extension", sa.String(64), nullable=False),
        sa.Column("ping_seconds", sa.Integer, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", name="uq_gateways_name"),
    )
    op.create_index("ix_gateways_tenant_id", "gateways", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("gateways")
