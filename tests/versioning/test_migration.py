"""Migration 0006_versioning matches the versioning models, and downgrades cleanly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url

OURS = {"plan_revisions", "plan_branch_reviewers", "plan_branch_approvals", "plan_branch_comments",
        "plan_branch_resolutions"}


@pytest.fixture
def empty_db(pg_server_url: str) -> Iterator[str]:
    name = f"tripl_versioning_{uuid.uuid4().hex[:8]}"
    url = make_url(pg_server_url.replace("postgresql+psycopg://", "postgresql://"))
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    yield url.set(database=name, drivername="postgresql+psycopg").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def test_models_match_the_migration_and_downgrade_works(empty_db):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from tripl_core.db.models import metadata
    from tripl_core.migrations import downgrade, upgrade

    upgrade(empty_db)
    engine = create_engine(empty_db)
    try:
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
            fks = {fk["name"] for fk in inspect(conn).get_foreign_keys("plan_branches")}
        mine = [d for d in diffs if OURS & set(str(d).split("'"))]
        assert mine == []
        # the FK from plan_branches.base_revision_id exists only in the database (revisions came later)
        assert "fk_plan_branches_base_revision_id_plan_revisions" in fks
        downgrade(empty_db, "0003_plan_extras")
        assert not (OURS & set(inspect(engine).get_table_names()))
        upgrade(empty_db)
        assert set(inspect(engine).get_table_names()) >= OURS
    finally:
        engine.dispose()
