"""A tenant's language (ja | en): which prompts and voicemail phrases its callers hear.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("language", sa.String(8), nullable=False, server_default="ja"))


def downgrade() -> None:
    op.drop_column("tenants", "language")
