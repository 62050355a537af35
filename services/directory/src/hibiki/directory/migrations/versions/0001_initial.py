"""Initial schema: tenants, users, devices, ring groups, schedules, DIDs, phonebook.

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
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("representative_number", sa.String(32), nullable=False),
        sa.Column("outbound_gateway", sa.String(64), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("domain", name="uq_tenants_domain"),
    )
    op.create_table(
        "service_classes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_service_classes_tenant_id_tenants"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("classes", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_service_classes_tenant_id_name"),
    )
    op.create_index("ix_service_classes_tenant_id", "service_classes", ["tenant_id"])
    op.create_table(
        "users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_users_tenant_id_tenants"), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("display_name_kana", sa.String(255), nullable=False),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("extension", sa.String(16), nullable=True),
        sa.Column("direct_number", sa.String(32), nullable=False),
        sa.Column("caller_id_policy", sa.String(16), nullable=False),
        sa.Column("outbound_classes", sa.JSON, nullable=False),
        sa.Column("service_class_id", sa.String(36), sa.ForeignKey("service_classes.id", name="fk_users_service_class_id_service_classes"), nullable=True),
        sa.Column("context", sa.String(64), nullable=False),
        sa.Column("forward_always", sa.String(32), nullable=False),
        sa.Column("forward_busy", sa.String(32), nullable=False),
        sa.Column("forward_no_answer", sa.String(32), nullable=False),
        sa.Column("forward_no_answer_seconds", sa.Integer, nullable=False),
        sa.Column("forward_unregistered", sa.String(32), nullable=False),
        sa.Column("pickup_group", sa.String(64), nullable=False),
        sa.Column("park_group", sa.String(64), nullable=False),
        sa.Column("voicemail_enabled", sa.Boolean, nullable=False),
        sa.Column("voicemail_pin", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "username", name="uq_users_tenant_id_username"),
        sa.UniqueConstraint("tenant_id", "extension", name="uq_users_tenant_id_extension"),
    )
    op.create_index("ix_users_tenant_id", "users", ["tenant_id"])
    op.create_table(
        "devices",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_devices_tenant_id_tenants"), nullable=False),
        sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE", name="fk_devices_user_id_users"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sip_username", sa.String(64), nullable=False),
        sa.Column("a1_hash", sa.String(32), nullable=False),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("phone", sa.String(64), nullable=True),
        sa.Column("line_key", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "sip_username", name="uq_devices_tenant_id_sip_username"),
        sa.UniqueConstraint("tenant_id", "phone", "line_key", name="uq_devices_tenant_id_phone_line_key"),
    )
    op.create_index("ix_devices_tenant_id", "devices", ["tenant_id"])
    op.create_index("ix_devices_user_id", "devices", ["user_id"])
    op.create_table(
        "ring_groups",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_ring_groups_tenant_id_tenants"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("extension", sa.String(16), nullable=True),
        sa.Column("strategy", sa.String(16), nullable=False),
        sa.Column("ring_seconds", sa.Integer, nullable=False),
        sa.Column("members", sa.JSON, nullable=False),
        sa.Column("no_answer_kind", sa.String(16), nullable=True),
        sa.Column("no_answer_target", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_ring_groups_tenant_id_name"),
        sa.UniqueConstraint("tenant_id", "extension", name="uq_ring_groups_tenant_id_extension"),
    )
    op.create_index("ix_ring_groups_tenant_id", "ring_groups", ["tenant_id"])
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_schedules_tenant_id_tenants"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant_id", "name", name="uq_schedules_tenant_id_name"),
    )
    op.create_index("ix_schedules_tenant_id", "schedules", ["tenant_id"])
    op.create_table(
        "dids",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_dids_tenant_id_tenants"), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("label", sa.String(255), nullable=False),
        sa.Column("schedule_id", sa.String(36), sa.ForeignKey("schedules.id", ondelete="SET NULL", name="fk_dids_schedule_id_schedules"), nullable=True),
        sa.Column("target_kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("closed_kind", sa.String(16), nullable=True),
        sa.Column("closed_target", sa.String(255), nullable=False),
        sa.Column("branches", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("number", name="uq_dids_number"),
    )
    op.create_index("ix_dids_tenant_id", "dids", ["tenant_id"])
    op.create_table(
        "contacts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.id", ondelete="CASCADE", name="fk_contacts_tenant_id_tenants"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("name_kana", sa.String(255), nullable=False),
        sa.Column("organization", sa.String(255), nullable=False),
        sa.Column("numbers", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("note", sa.String(1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_contacts_tenant_id", "contacts", ["tenant_id"])


def downgrade() -> None:
    for table in ("contacts", "dids", "schedules", "ring_groups", "devices", "users", "service_classes", "tenants"):
        op.drop_table(table)
