"""The store's tables (SQLAlchemy Core), shared by SQLite and PostgreSQL.

This module describes the *current* schema for queries; the history that creates
it lives in ``migrations/versions`` (Alembic). A test checks the two agree.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    # one JSON document per customer: the aggregate changes atomically (see context.py)
    Column("doc", Text, nullable=False),
    # 0004: indexed, the retention of inactive customers' contexts is measured from it
    Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("event_id", String(128), primary_key=True),
    Column("customer_id", String(64), nullable=False, index=True),
    # 0004: indexed for the retention of events
    Column("event_time", DateTime(timezone=True), nullable=False, index=True),
)

decisions = Table(
    "decisions",
    metadata,
    # one hash chain per stream of decisions: "main" in the embedded run, one per
    # Kafka partition in the service (a partition has one writer at a time)
    Column("chain", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("decision_id", String(64), nullable=False, unique=True),
    Column("event_id", String(128), nullable=False, index=True),
    Column("customer_id", String(64), nullable=False, index=True),
    Column("rule_id", String(128), nullable=False, index=True),
    # a review record (chain "review", record_type "review") keeps its action here
    Column("verdict", String(16), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Column("record", Text, nullable=False),
    # 0004: personal fields the record no longer holds (bookkeeping of the retention
    # sweep; the audit trusts the record's redaction marks and the erasure chain)
    Column("redacted", String(255)),
    # 0003: the decision explorer lists the newest first and searches by date
    Index("ix_decisions_created_at", "created_at"),
)

contacts = Table(
    "contacts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("customer_id", String(64), nullable=False, index=True),
    Column("rule_id", String(128), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("offer_id", String(64)),
    Column("decision_id", String(64), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
)

deferred = Table(
    "deferred",
    metadata,
    Column("decision_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False, index=True),
    # the decision chain (stream) the message belongs to: its owner releases it
    Column("chain", String(64), nullable=False, index=True),
    Column("due_at", DateTime(timezone=True), nullable=False, index=True),
    Column("candidate", Text, nullable=False),
    Column("status", String(16), nullable=False),
)

review_queue = Table(
    "review_queue",
    metadata,
    Column("decision_id", String(64), primary_key=True),
    Column("customer_id", String(64), nullable=False, index=True),
    Column("rule_id", String(128), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # pending → approved | rejected | expired; a refused approval leaves it pending
    Column("status", String(16), nullable=False),
    # 0002: what is needed to act later (see proactive/review.py)
    Column("chain", String(64), nullable=False),
    # the candidate spec, as for deferred messages; NULL for items queued before 0002,
    # which can be rejected or expire but not be approved
    Column("candidate", Text),
    Column("reasons", Text, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    # the latest review action (the full history is the "review" decision chain)
    Column("reviewer", String(128)),
    Column("action", String(16)),
    Column("reason", Text),
    Column("decided_at", DateTime(timezone=True)),
    Index("ix_review_queue_status_expires_at", "status", "expires_at"),
    Index("ix_review_queue_rule_id", "rule_id"),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("raw", Text, nullable=False),
    # 0004: indexed for the retention of dead letters
    Column("received_at", DateTime(timezone=True), nullable=False, index=True),
)

consumer_offsets = Table(
    "consumer_offsets",
    metadata,
    # the next offset to read per partition, committed with the state it produced
    Column("consumer_group", String(128), primary_key=True),
    Column("topic", String(255), primary_key=True),
    Column("partition", Integer, primary_key=True, autoincrement=False),
    Column("next_offset", Integer, nullable=False),
)

chain_head = Table(
    "chain_head",
    metadata,
    Column("chain", String(64), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

# -- 0003: staff accounts of the web UI (proactive.web.accounts) ----------------------------

users = Table(
    "users",
    metadata,
    Column("username", String(64), primary_key=True),
    # reviewer | compliance | product | auditor (proactive.web.accounts.ROLES)
    Column("role", String(16), nullable=False),
    # argon2id, in the PHC string format (algorithm, parameters and salt included)
    Column("password_hash", Text, nullable=False),
    # a product user's rules, as a JSON list; NULL: every rule (read-only all the same)
    Column("rules", Text),
    Column("active", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("password_changed_at", DateTime(timezone=True), nullable=False),
)

web_sessions = Table(
    "web_sessions",
    metadata,
    # SHA-256 of the cookie's random token: a copy of this table opens no session
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(64), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("ip", String(64), nullable=False),
)

login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # the name as typed (lower-cased), whether or not such an account exists
    Column("username", String(64), nullable=False, index=True),
    Column("ip", String(64), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
)

# -- 0005: choices customers made on the preference page, waiting for the engine -----------

inbound_events = Table(
    "inbound_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(128), nullable=False, unique=True),
    Column("customer_id", String(64), nullable=False, index=True),
    # the CloudEvent as JSON; the engine drains it between batches, then deletes the row
    Column("event", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
