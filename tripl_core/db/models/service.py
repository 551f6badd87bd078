"""Service settings overrides: the sparse map owners change at run time through the settings API."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from tripl_core.db.base import Base, Timestamps


class ServiceSettingOverride(Timestamps, Base):
    """One overridden setting. Secrets live only in `secret_ciphertext` (encrypted), never in `value`."""

    __tablename__ = "service_setting_overrides"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONB, nullable=True)
    secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("users.id", ondelete="SET NULL")
    )
