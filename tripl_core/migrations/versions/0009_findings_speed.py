"""findings speed: metric_forecasts (the band of the next buckets per scan config × scope, stored by the scan)

Series reads serve the stored band instead of running the detector per request. See docs/findings.md.

Revision ID: 0009_findings_speed
Revises: 0008_alerting
Create Date: 2026-11-22 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0009_findings_speed'
down_revision: str | Sequence[str] | None = '0008_alerting'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('metric_forecasts',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('scan_config_id', sa.UUID(), nullable=False),
    sa.Column('scope_type', postgresql.ENUM('project_total', 'event_type', 'event', name='metric_scope_type',
                                            create_type=False), nullable=False),
    sa.Column('scope_ref', sa.UUID(), nullable=True),
    sa.Column('last_bucket', sa.DateTime(timezone=True), nullable=False),
    sa.Column('settings_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('points', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.ForeignKeyConstraint(['scan_config_id'], ['scan_configs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('uq_metric_forecasts_scope', 'metric_forecasts', ['scan_config_id', 'scope_type', 'scope_ref'],
                    unique=True, postgresql_nulls_not_distinct=True)


def downgrade() -> None:
    op.drop_index('uq_metric_forecasts_scope', table_name='metric_forecasts')
    op.drop_table('metric_forecasts')
