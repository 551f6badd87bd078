"""versioning: plan revisions, branch reviewers, approvals, comments, conflict resolutions

Also adds the FK plan_branches.base_revision_id -> plan_revisions.id (ON DELETE SET NULL), which 0002_plan could
not declare because revisions did not exist yet.

Revision ID: 0006_versioning
Revises: 0003_plan_extras
Create Date: 2026-11-22 17:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0006_versioning'
down_revision: str | Sequence[str] | None = '0003_plan_extras'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id_created() -> list[sa.Column]:
    return [sa.Column('id', sa.UUID(), nullable=False),
            sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False)]


def _branch(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(['branch_id'], ['plan_branches.id'], name=f'fk_{table}_branch_id_plan_branches',
                                   ondelete='CASCADE')


def _user(table: str, column: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ['users.id'], name=f'fk_{table}_{column}_users', ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        'plan_revisions',
        sa.Column('project_id', sa.UUID(), nullable=False),
        sa.Column('summary', sa.Text(), server_default='', nullable=False),
        sa.Column('created_by', sa.UUID(), nullable=True),
        sa.Column('entity_counts', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        *_id_created(),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name='fk_plan_revisions_project_id_projects',
                                ondelete='CASCADE'),
        _user('plan_revisions', 'created_by', 'SET NULL'),
        sa.PrimaryKeyConstraint('id', name='pk_plan_revisions'),
    )
    op.create_index('ix_plan_revisions_project_created', 'plan_revisions', ['project_id', 'created_at'])
    op.create_foreign_key('fk_plan_branches_base_revision_id_plan_revisions', 'plan_branches', 'plan_revisions',
                          ['base_revision_id'], ['id'], ondelete='SET NULL')

    for table in ('plan_branch_reviewers', 'plan_branch_approvals'):
        extra = [sa.Column('content_hash', sa.String(length=64), nullable=True)] \
            if table == 'plan_branch_approvals' else []
        op.create_table(
            table,
            sa.Column('branch_id', sa.UUID(), nullable=False),
            sa.Column('user_id', sa.UUID(), nullable=False),
            *extra,
            *_id_created(),
            _branch(table),
            _user(table, 'user_id', 'CASCADE'),
            sa.PrimaryKeyConstraint('id', name=f'pk_{table}'),
            sa.UniqueConstraint('branch_id', 'user_id', name=f'uq_{table}_branch_id_user_id'),
        )
        op.create_index(f'ix_{table}_branch_id', table, ['branch_id'])

    op.create_table(
        'plan_branch_comments',
        sa.Column('branch_id', sa.UUID(), nullable=False),
        sa.Column('parent_id', sa.UUID(), nullable=True),
        sa.Column('user_id', sa.UUID(), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        *_id_created(),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        _branch('plan_branch_comments'),
        sa.ForeignKeyConstraint(['parent_id'], ['plan_branch_comments.id'],
                                name='fk_plan_branch_comments_parent_id_plan_branch_comments', ondelete='CASCADE'),
        _user('plan_branch_comments', 'user_id', 'SET NULL'),
        sa.PrimaryKeyConstraint('id', name='pk_plan_branch_comments'),
    )
    op.create_index('ix_plan_branch_comments_branch_created', 'plan_branch_comments', ['branch_id', 'created_at'])
    op.create_index('ix_plan_branch_comments_parent_id', 'plan_branch_comments', ['parent_id'])

    choice = postgresql.ENUM('ours', 'theirs', name='merge_resolution_choice', create_type=False)
    choice.create(op.get_bind(), checkfirst=True)
    op.create_table(
        'plan_branch_resolutions',
        sa.Column('branch_id', sa.UUID(), nullable=False),
        sa.Column('entity_type', sa.String(length=100), nullable=False),
        sa.Column('entity_name', sa.String(length=1000), nullable=False),
        sa.Column('field_name', sa.String(length=100), nullable=False),
        sa.Column('choice', choice, nullable=False),
        sa.Column('resolved_by', sa.UUID(), nullable=True),
        *_id_created(),
        _branch('plan_branch_resolutions'),
        _user('plan_branch_resolutions', 'resolved_by', 'SET NULL'),
        sa.PrimaryKeyConstraint('id', name='pk_plan_branch_resolutions'),
        sa.UniqueConstraint('branch_id', 'entity_type', 'entity_name', 'field_name',
                            name='uq_plan_branch_resolutions_field'),
    )
    op.create_index('ix_plan_branch_resolutions_branch_id', 'plan_branch_resolutions', ['branch_id'])


def downgrade() -> None:
    op.drop_table('plan_branch_resolutions')
    sa.Enum(name='merge_resolution_choice').drop(op.get_bind(), checkfirst=True)
    op.drop_table('plan_branch_comments')
    op.drop_table('plan_branch_approvals')
    op.drop_table('plan_branch_reviewers')
    op.drop_constraint('fk_plan_branches_base_revision_id_plan_revisions', 'plan_branches', type_='foreignkey')
    op.drop_table('plan_revisions')
