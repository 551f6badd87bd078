"""Dagster resources: tripl's database and the warehouse clients.

Assets, checks, sensors and jobs receive these instead of reaching for a process-wide session, so a test (or a
second instance) substitutes its own: `TriplDatabase(url=...)`, or a `WarehouseClients` subclass that hands out a
prepared adapter.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from sqlalchemy.orm import Session, sessionmaker

from tripl_core.db.models.sources import ScanConfig
from tripl_core.db.session import committed, database_url, engine_for, normalize_url
from tripl_core.sources.data_sources import adapter_for
from tripl_core.warehouse import WarehouseAdapter


class TriplDatabase(dg.ConfigurableResource):
    """Sessions on tripl's application database. `url` unset: TRIPL_DATABASE_URL (what `tripl up` exports)."""

    url: str | None = None

    def _factory(self) -> sessionmaker[Session]:
        return sessionmaker(bind=engine_for(normalize_url(self.url) if self.url else database_url()),
                            expire_on_commit=False)

    def new_session(self) -> Session:
        """A session the caller closes (and commits): the steps decide their own transactions."""
        return self._factory()()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Commits on success, rolls back on error, always closes."""
        with committed(self.new_session()) as db:
            yield db


class WarehouseClients(dg.ConfigurableResource):
    """Opens the warehouse client of a scan config's data source (decrypted credentials, instance caps).

    One client serves every day of a run: a batched backfill run connects once, not once per day."""

    @contextmanager
    def client(self, cfg: ScanConfig) -> Iterator[WarehouseAdapter]:
        adapter = adapter_for(cfg.data_source)
        try:
            yield adapter
        finally:
            adapter.close()


def default_resources() -> dict[str, dg.ConfigurableResource]:
    return {"tripl_db": TriplDatabase(), "warehouse": WarehouseClients()}
