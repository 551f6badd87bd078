"""alerts outcomes: the match ledger also records findings that joined an incident already notified (`updated`),
findings older than the dispatch look-back (`stale`) and series still learning their history (`learning`)

Recorded so people can see why nothing was sent; none of them starts a cooldown. See docs/alerting.md.

Revision ID: 0011_alerts_outcomes
Revises: 0010_plan_search
Create Date: 2026-12-04 19:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0011_alerts_outcomes'
down_revision: str | Sequence[str] | None = '0010_plan_search'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for value in ("updated", "stale", "learning"):
        op.execute(f"ALTER TYPE alert_match_outcome ADD VALUE IF NOT EXISTS '{value}'")


def downgrade() -> None:
    # PostgreSQL cannot drop enum values; rows using them are rewritten to the nearest older meaning.
    op.execute("UPDATE alert_matches SET outcome = 'cooldown' WHERE outcome::text IN ('updated', 'stale', 'learning')")
