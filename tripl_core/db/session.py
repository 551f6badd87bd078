"""Engine and session factory, one engine per database URL and process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from tripl_core.settings import get_settings


def normalize_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use psycopg 3 for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def database_url() -> str:
    settings = get_settings()
    if not settings.database_url:
        raise RuntimeError(
            "TRIPL_DATABASE_URL is not set; start tripl through `tripl up` (embedded Postgres) or set it."
        )
    return normalize_url(settings.database_url)


@lru_cache
def engine_for(url: str) -> Engine:
    settings = get_settings()
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
    )


def get_engine() -> Engine:
    return engine_for(database_url())


@lru_cache
def _factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=engine_for(url), expire_on_commit=False)


def new_session() -> Session:
    return _factory(database_url())()


@contextmanager
def committed(db: Session) -> Iterator[Session]:
    """Use `db` as one unit of work: commits on success, rolls back on error, always closes."""
    try:
        yield db
        db.commit()
    except Exception:
        db.rollback()
        raise
    finally:
        db.close()


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session for scripts and pipelines: commits on success, rolls back on error."""
    with committed(new_session()) as db:
        yield db


def reset_engines() -> None:
    """Forget cached engines (tests switch databases; settings may change)."""
    _factory.cache_clear()
    engine_for.cache_clear()
