"""plan search: events.search_text, a stored lower(name ␟ description) that List Events' `search` scans

lower() per row at query time was most of that filter's cost. See tripl_core/plan/event_queries.py.

Revision ID: 0010_plan_search
Revises: 0009_findings_speed
Create Date: 2026-11-22 23:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_plan_search'
down_revision: str | Sequence[str] | None = '0009_findings_speed'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('events', sa.Column('search_text', sa.Text(), sa.Computed(
        "lower(name::text || chr(31) || description)", persisted=True), nullable=False))


def downgrade() -> None:
    op.drop_column('events', 'search_text')
