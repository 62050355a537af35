"""Tables of console identity (ADM-04/05): console users, their sessions, recovery codes,
password history, login failures, API tokens, each tenant's identity policy, and the
hash-chained audit trail. ``tenant_id`` ``*`` is the platform (its operators, its audit).
Created by migration 0007 (0008: a console user's directory user).
"""

from __future__ import annotations

from sqlalchemy import (JSON, BigInteger, Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, String, Table,
                        Text, UniqueConstraint)

from hibiki.directory.storage.tables import metadata

console_users = Table(
    "console_users", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False, index=True),      # "*": a platform operator
    Column("login", String(64), nullable=False),
    Column("display_name", String(255), nullable=False, default=""),
    Column("password_hash", Text, nullable=False),                    # argon2id
    Column("roles", JSON, nullable=False),                            # hibiki.common.roles names
    Column("scope", JSON, nullable=False),                            # delegated admin: group:/user:/number:
    Column("directory_user_id", String(36), nullable=True),           # the SIP user whose own page is theirs
    Column("enabled", Boolean, nullable=False, default=True),
    Column("totp_secret", String(64), nullable=True),                 # base32; None: no TOTP
    Column("totp_pending", String(64), nullable=True),                # enrolment not yet confirmed
    Column("totp_last_step", BigInteger, nullable=False, default=0),  # a code is used once
    Column("password_changed_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("tenant_id", "login"),
)

console_password_history = Table(
    "console_password_history", metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), ForeignKey("console_users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

console_recovery_codes = Table(
    "console_recovery_codes", metadata,
    Column("id", String(36), primary_key=True),
    Column("user_id", String(36), ForeignKey("console_users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),                  # SHA-256 of the code (high entropy)
    Column("used_at", DateTime(timezone=True), nullable=True),
)

console_sessions = Table(
    "console_sessions", metadata,
    Column("id", String(64), primary_key=True),                       # the token's sid
    Column("user_id", String(36), ForeignKey("console_users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("tenant_id", String(64), nullable=False),
    Column("created_at", Float, nullable=False),                      # epoch seconds
    Column("last_seen_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),                      # absolute end
    Column("ended_at", Float, nullable=True),
    Column("ended_reason", String(32), nullable=False, default=""),
    Column("address", String(64), nullable=False, default=""),
)

console_login_failures = Table(
    "console_login_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("login", String(64), nullable=False),                      # as typed (lowered): known or not
    Column("address", String(64), nullable=False),
    Column("at", Float, nullable=False),
    Index("ix_console_login_failures_tenant_id_login_at", "tenant_id", "login", "at"),
    Index("ix_console_login_failures_address_at", "address", "at"),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", String(36), primary_key=True),                       # the token's jti
    Column("tenant_id", String(64), nullable=False, index=True),
    Column("user_id", String(36), ForeignKey("console_users.id", ondelete="CASCADE"), nullable=True),
    Column("name", String(64), nullable=False),
    Column("kind", String(16), nullable=False),                       # user | integration
    Column("subject", String(128), nullable=False),
    Column("roles", JSON, nullable=False),
    Column("scope", JSON, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
)

identity_policies = Table(
    "identity_policies", metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("mfa_required", Boolean, nullable=False, default=False),
    Column("password_min_length", Integer, nullable=False, default=12),
    Column("password_history", Integer, nullable=False, default=5),
)

audit_log = Table(
    "audit_log", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("at", String(40), nullable=False),                         # ISO 8601 UTC, as hashed
    Column("actor", String(255), nullable=False),
    Column("roles", Text, nullable=False),                            # JSON, as hashed
    Column("action", String(64), nullable=False),
    Column("resource", String(64), nullable=False),
    Column("resource_id", String(255), nullable=False, default=""),
    Column("before", Text, nullable=True),                            # canonical JSON
    Column("after", Text, nullable=True),
    Column("address", String(64), nullable=False, default=""),
    Column("outcome", String(32), nullable=False, default="ok"),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("tenant_id", "seq"),
)

audit_heads = Table(
    "audit_heads", metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)
