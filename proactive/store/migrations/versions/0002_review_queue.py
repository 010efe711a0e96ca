"""Review queue: what a reviewer needs to act later, and the latest review action.

Adds to ``review_queue`` the decision chain, the candidate spec (as ``deferred``
keeps it), the verdict reasons, ``expires_at``, and reviewer / action / reason /
decided_at; indexes for the expiry sweep (status, expires_at) and the rule filter.

Rows queued before this revision are filled in from their decision records: the
chain and the reasons from ``decisions``, ``expires_at`` as created_at + 72 hours
(the policy default; the policy is not known to a migration). They have no
candidate spec, so they can be rejected or expire, but not be approved.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
LEGACY_EXPIRY = timedelta(hours=72)


def upgrade() -> None:
    with op.batch_alter_table("review_queue") as batch:
        batch.add_column(sa.Column("chain", sa.String(64), nullable=True))
        batch.add_column(sa.Column("candidate", sa.Text, nullable=True))
        batch.add_column(sa.Column("reasons", sa.Text, nullable=True))
        batch.add_column(sa.Column("expires_at", TZ, nullable=True))
        batch.add_column(sa.Column("reviewer", sa.String(128), nullable=True))
        batch.add_column(sa.Column("action", sa.String(16), nullable=True))
        batch.add_column(sa.Column("reason", sa.Text, nullable=True))
        batch.add_column(sa.Column("decided_at", TZ, nullable=True))
    _fill_legacy_rows()
    with op.batch_alter_table("review_queue") as batch:
        batch.alter_column("chain", existing_type=sa.String(64), nullable=False)
        batch.alter_column("reasons", existing_type=sa.Text, nullable=False)
        batch.alter_column("expires_at", existing_type=TZ, nullable=False)
        batch.create_index("ix_review_queue_status_expires_at", ["status", "expires_at"])
        batch.create_index("ix_review_queue_rule_id", ["rule_id"])


def _fill_legacy_rows() -> None:
    # lightweight table clauses: the migration must not depend on today's schema module
    queue = sa.table(
        "review_queue",
        sa.column("decision_id", sa.String),
        sa.column("created_at", TZ),
        sa.column("chain", sa.String),
        sa.column("reasons", sa.Text),
        sa.column("expires_at", TZ),
    )
    decisions = sa.table(
        "decisions",
        sa.column("decision_id", sa.String),
        sa.column("chain", sa.String),
        sa.column("record", sa.Text),
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(queue.c.decision_id, queue.c.created_at, decisions.c.chain, decisions.c.record)
        .select_from(queue.outerjoin(decisions, decisions.c.decision_id == queue.c.decision_id))
        .where(queue.c.expires_at.is_(None))
    ).all()
    for decision_id, created_at, chain, record in rows:
        reasons = json.loads(record).get("reasons", []) if record else []
        conn.execute(
            sa.update(queue)
            .where(queue.c.decision_id == decision_id)
            .values(
                chain=chain or "main",
                reasons=json.dumps(reasons),
                expires_at=created_at + LEGACY_EXPIRY,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("review_queue") as batch:
        batch.drop_index("ix_review_queue_rule_id")
        batch.drop_index("ix_review_queue_status_expires_at")
        for name in (
            "decided_at",
            "reason",
            "action",
            "reviewer",
            "expires_at",
            "reasons",
            "candidate",
            "chain",
        ):
            batch.drop_column(name)
