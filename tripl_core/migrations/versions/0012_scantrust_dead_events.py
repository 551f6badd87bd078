"""dead events: regular events silent far longer than their usual gap (a finding; alertable as `dead_event`)

Revision ID: 0012_scantrust_dead_events
Revises: 0011_alerts_outcomes
Create Date: 2026-12-04 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012_scantrust_dead_events'
down_revision: str | Sequence[str] | None = '0011_alerts_outcomes'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('dead_events',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('project_id', sa.UUID(), nullable=False),
    sa.Column('scan_config_id', sa.UUID(), nullable=False),
    sa.Column('event_id', sa.UUID(), nullable=False),
    sa.Column('event_type_id', sa.UUID(), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('observed_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('usual_gap_seconds', sa.Float(), nullable=False),
    sa.Column('silent_seconds', sa.Float(), nullable=False),
    sa.Column('active_buckets', sa.Integer(), nullable=False),
    sa.Column('typical_count', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['scan_config_id'], ['scan_configs.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_dead_events_project_id', 'dead_events', ['project_id'])
    op.create_index('ix_dead_events_event_id', 'dead_events', ['event_id'])


def downgrade() -> None:
    op.drop_index('ix_dead_events_event_id', table_name='dead_events')
    op.drop_index('ix_dead_events_project_id', table_name='dead_events')
    op.drop_table('dead_events')
