"""Tables of the configuration store (SQLite by default, PostgreSQL in production).

Every row belongs to one tenant; ``tenants.version`` grows with each committed change
and is what replicas compare to know their view is current.
"""

from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Boolean, Column, DateTime, ForeignKey, Integer, MetaData, String, Table,
                        UniqueConstraint)

metadata = MetaData(naming_convention={
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
})

tenants = Table(
    "tenants", metadata,
    Column("id", String(64), primary_key=True),
    Column("domain", String(255), nullable=False, unique=True),
    Column("name", String(255), nullable=False, default=""),
    Column("representative_number", String(32), nullable=False, default=""),
    Column("outbound_gateway", String(64), nullable=False, default=""),   # FreeSWITCH gateway to the carrier
    Column("language", String(8), nullable=False, default="ja", server_default="ja"),   # ja | en: prompts, voicemail
    Column("trusted_networks", JSON, nullable=False),   # office CIDRs: never blocked as a whole
    Column("recording_policy", JSON, nullable=False, default=dict, server_default="{}"),   # REC-01 (recording.py)
    Column("version", BigInteger, nullable=False, default=1),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Named classes of service (PBX-12): what a group of users may call; a user in one gets its classes.
service_classes = Table(
    "service_classes", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(64), nullable=False),
    Column("classes", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "name"),
)

users = Table(
    "users", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("username", String(64), nullable=False),
    Column("display_name", String(255), nullable=False, default=""),
    Column("display_name_kana", String(255), nullable=False, default=""),
    Column("email", String(255), nullable=False, default=""),
    Column("extension", String(16), nullable=True),
    Column("direct_number", String(32), nullable=False, default=""),
    Column("caller_id_policy", String(16), nullable=False, default="representative"),
    Column("outbound_classes", JSON, nullable=False),      # restriction classes this user may call
    Column("service_class_id", String(36), ForeignKey("service_classes.id"), nullable=True),  # overrides them
    Column("context", String(64), nullable=False, default="default"),
    Column("forward_always", String(32), nullable=False, default=""),       # extension or number
    Column("forward_busy", String(32), nullable=False, default=""),
    Column("forward_no_answer", String(32), nullable=False, default=""),
    Column("forward_no_answer_seconds", Integer, nullable=False, default=20),
    Column("forward_unregistered", String(32), nullable=False, default=""),
    Column("pickup_group", String(64), nullable=False, default=""),      # who may answer this user's calls
    Column("park_group", String(64), nullable=False, default=""),        # which park lot *70 uses
    Column("voicemail_enabled", Boolean, nullable=False, default=True),
    Column("voicemail_pin", String(16), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "username"),
    UniqueConstraint("tenant_id", "extension"),
)

devices = Table(
    "devices", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("user_id", String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("sip_username", String(64), nullable=False),
    Column("a1_hash", String(32), nullable=False),
    Column("label", String(255), nullable=False, default=""),
    Column("enabled", Boolean, nullable=False, default=True),
    # A desk phone carries several numbers on its line keys (PBX-04): one device per key,
    # each its own registration, grouped by the phone's hardware id.
    Column("phone", String(64), nullable=True),
    Column("line_key", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "sip_username"),
    UniqueConstraint("tenant_id", "phone", "line_key"),
)

# A group of users rung at once or in turn (PBX-06); its extension shares the users' namespace.
ring_groups = Table(
    "ring_groups", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(64), nullable=False),
    Column("extension", String(16), nullable=True),
    Column("strategy", String(16), nullable=False),          # simultaneous | sequential
    Column("ring_seconds", Integer, nullable=False),         # in all (simultaneous) or per member (sequential)
    Column("members", JSON, nullable=False),                 # user ids, in order
    Column("no_answer_kind", String(16), nullable=True),     # user | voicemail | announcement | ring_group
    Column("no_answer_target", String(255), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "name"),
    UniqueConstraint("tenant_id", "extension"),
)

schedules = Table(
    "schedules", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(64), nullable=False),
    Column("definition", JSON, nullable=False),            # schedules.Schedule.to_dict()
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "name"),
)

# IVRs (PBX-18): the menus as the JSON of hibiki.directory.v1.Ivr (ivrs.py checks it).
ivrs = Table(
    "ivrs", metadata,
    Column("id", String(64), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("definition", JSON, nullable=False),            # root_menu, menus, recording_notice
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "name"),
)

# External numbers (DIDs), normalized, unique on the whole platform; routed per schedule.
dids = Table(
    "dids", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("number", String(32), nullable=False, unique=True),
    Column("label", String(255), nullable=False, default=""),
    Column("schedule_id", String(36), ForeignKey("schedules.id", ondelete="SET NULL"), nullable=True),
    Column("target_kind", String(16), nullable=False),     # user | voicemail | announcement
    Column("target", String(255), nullable=False),
    Column("closed_kind", String(16), nullable=True),      # when the schedule says closed
    Column("closed_target", String(255), nullable=False, default=""),
    Column("branches", JSON, nullable=False, default=dict),  # schedule branch -> {"kind", "target"}
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# The shared phonebook an administrator keeps (PBX-13): outside contacts, searchable by name,
# kana, organisation, number and tag.
contacts = Table(
    "contacts", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("name_kana", String(255), nullable=False, default=""),
    Column("organization", String(255), nullable=False, default=""),
    Column("numbers", JSON, nullable=False),            # normalized, first is the main one
    Column("tags", JSON, nullable=False),
    Column("note", String(1000), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Carrier gateways (SIP trunks) mod_sofia loads from the directory (purpose=gateways). The name
# is FreeSWITCH's gateway name, global on a node, so unique on the platform. The password is
# kept as given (FreeSWITCH needs it to register) and never returned by the API.
gateways = Table(
    "gateways", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("profile", String(64), nullable=False, default="internal"),   # sofia profile that loads it
    Column("proxy", String(255), nullable=False),                       # the carrier's host name or address
    Column("port", Integer, nullable=True),                             # None: SIP's default (or DNS SRV)
    Column("realm", String(255), nullable=False, default=""),           # empty: FreeSWITCH uses the proxy
    Column("transport", String(8), nullable=False, default="udp"),      # udp | tcp | tls
    Column("username", String(128), nullable=False, default=""),
    Column("password", String(128), nullable=False, default=""),
    Column("register", Boolean, nullable=False, default=True),
    Column("expire_seconds", Integer, nullable=False, default=3600),
    Column("caller_id_in_from", Boolean, nullable=False, default=False),
    Column("from_user", String(128), nullable=False, default=""),
    Column("from_domain", String(255), nullable=False, default=""),
    Column("extension", String(64), nullable=False, default=""),       # where inbound calls land
    Column("ping_seconds", Integer, nullable=False, default=0),         # OPTIONS ping; 0: off
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Console identity and the audit trail (their own module; imported so `metadata` holds them).
from hibiki.directory.storage import identity_tables  # noqa: E402,F401
