"""Privacy: what erasure and retention have removed, and indexes for the retention sweep.

* ``decisions.redacted``: the personal fields a record no longer holds (comma-separated,
  sorted; NULL: none), so the daily retention sweep skips records it already did. It
  is bookkeeping only: the audit trusts the record's own redaction marks and the
  sealed erasure records, never this column (see ``proactive/gdpr.py``);
* indexes on the times the retention periods are measured from: processed events'
  ``event_time``, customers' ``updated_at``, dead letters' ``received_at``.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("redacted", sa.String(255), nullable=True))
    op.create_index("ix_processed_events_event_time", "processed_events", ["event_time"])
    op.create_index("ix_customers_updated_at", "customers", ["updated_at"])
    op.create_index("ix_dead_letters_received_at", "dead_letters", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_dead_letters_received_at", table_name="dead_letters")
    op.drop_index("ix_customers_updated_at", table_name="customers")
    op.drop_index("ix_processed_events_event_time", table_name="processed_events")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("redacted")
