"""Process settings: every knob is an environment variable `TRIPL_*` with a documented default.

These are the *boot* settings (where the database is, which port to bind). Values that owners may change at run
time through the settings API are layered on top of these in `tripl_core.service_settings`.
"""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIPL_", env_file=".env", extra="ignore")

    # storage
    data_dir: Path = Field(Path(".tripl"), description="Where embedded Postgres, secret key and uploads live.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the app database. Unset: an embedded PostgreSQL in data_dir."
    )
    dagster_database_url: str | None = Field(
        None, description="postgresql+psycopg2:// URL of Dagster's own database. Unset: derived from the server."
    )
    db_pool_size: int = Field(20, ge=1, description="Connections kept per API process.")
    db_max_overflow: int = Field(20, ge=0)

    # runtime
    host: str = "127.0.0.1"
    port: int = 8000
    dagster_port: int = 3000
    log_level: str = "info"
    environment: str = "development"

    # security
    secret_key: str | None = Field(
        None, description="Key for sessions and encryption of stored secrets. Unset: generated into data_dir."
    )
    session_ttl_hours: int = Field(24 * 14, ge=1)
    cookie_secure: bool = False
    cookie_name: str = "tripl_session"
    registration_open: bool = True
    login_max_failures: int = Field(5, ge=1, description="Failed logins per email (or 4x per IP) in the window.")
    login_failure_window_seconds: int = Field(900, ge=1)
    api_key_touch_seconds: int = Field(60, ge=0, description="Minimum gap between last_used_at writes.")

    # uploads
    photo_max_bytes: int = Field(10 * 1024 * 1024, ge=1)

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once into the data directory."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    get_settings.cache_clear()
