"""detector: project_anomaly_settings.min_history_buckets defaults to 672 (a week of the default 15-minute interval)

The volume model needs a week of history for its weekly shape (issue 19 item 3); 96 (a day of 15-minute buckets)
judged the first weekend with no idea that weekends are quiet. Rows still holding the old default 96 — it was
never offered as a choice, so those rows are projects that kept the default — move to the new one.

Revision ID: 0013_detector_min_history
Revises: 0012_scantrust_dead_events
Create Date: 2026-12-04 19:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0013_detector_min_history'
down_revision: str | Sequence[str] | None = '0012_scantrust_dead_events'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column('project_anomaly_settings', 'min_history_buckets', server_default='672')
    op.execute("UPDATE project_anomaly_settings SET min_history_buckets = 672 WHERE min_history_buckets = 96")


def downgrade() -> None:
    op.alter_column('project_anomaly_settings', 'min_history_buckets', server_default='96')
