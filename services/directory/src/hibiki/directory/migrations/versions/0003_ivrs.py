"""IVRs as data (PBX-18): one row per IVR, its menus as the JSON of hibiki.directory.v1.Ivr.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ivrs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE",
                                                            name="fk_ivrs_tenant_id_tenants"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_ivrs_tenant_id_name"),
    )
    op.create_index("ix_ivrs_tenant_id", "ivrs", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("ivrs")
