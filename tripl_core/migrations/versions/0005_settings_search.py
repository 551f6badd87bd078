"""settings overrides, search documents (full text, typo-tolerance words, pgvector embeddings)

Revision ID: 0005_settings_search
Revises: 0002_plan
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

revision: str = "0005_settings_search"
down_revision: str | Sequence[str] | None = "0002_plan"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_setting_overrides",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("secret_ciphertext", sa.Text(), nullable=True),
        sa.Column("updated_by_id", sa.UUID(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["updated_by_id"], ["users.id"],
                                name=op.f("fk_service_setting_overrides_updated_by_id_users"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_service_setting_overrides")),
    )

    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    # Names are indexed as words: snake_case, dotted.names and camelCase split into their parts.
    op.execute(r"""
        CREATE FUNCTION tripl_search_text(t text) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT AS $$
          SELECT regexp_replace(regexp_replace(t, '([a-z0-9])([A-Z])', '\1 \2', 'g'), '[^[:alnum:]]+', ' ', 'g')
        $$""")
    op.execute(r"""
        CREATE FUNCTION tripl_search_words(t text) RETURNS text[]
        LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURNS NULL ON NULL INPUT AS $$
          SELECT coalesce(array_agg(DISTINCT w), '{}') FROM unnest(
            regexp_split_to_array(lower(tripl_search_text(t)), '\s+')) AS w WHERE length(w) >= 3
        $$""")
    op.create_table(
        "search_documents",
        sa.Column("branch_id", sa.UUID(), nullable=False),
        sa.Column("doc_type", sa.String(length=20), nullable=False),
        sa.Column("object_id", sa.UUID(), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("parent_id", sa.UUID(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("content_hash", sa.String(length=32), nullable=False),
        sa.Column("tsv", postgresql.TSVECTOR(), nullable=False),
        sa.Column("words", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("embedding", Vector(), nullable=True),
        sa.Column("embedding_model", sa.String(length=255), nullable=True),
        sa.Column("indexed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["branch_id"], ["plan_branches.id"],
                                name=op.f("fk_search_documents_branch_id_plan_branches"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"],
                                name=op.f("fk_search_documents_project_id_projects"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("branch_id", "doc_type", "object_id", name=op.f("pk_search_documents")),
    )
    op.create_index("ix_search_documents_project_id", "search_documents", ["project_id"])
    op.create_index("ix_search_documents_tsv", "search_documents", ["tsv"], postgresql_using="gin")
    op.create_index("ix_search_documents_words", "search_documents", ["words"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_table("search_documents")
    op.execute("DROP FUNCTION IF EXISTS tripl_search_words(text)")
    op.execute("DROP FUNCTION IF EXISTS tripl_search_text(text)")
    op.drop_table("service_setting_overrides")
