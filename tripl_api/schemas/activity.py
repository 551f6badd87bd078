from __future__ import annotations

import uuid
from datetime import datetime

from tripl_api.schemas.common import ORMModel


class ActivityEntry(ORMModel):
    """A readable line of the feed: `message` is written for people ("Ann created event 'signup'")."""

    id: uuid.UUID
    created_at: datetime
    actor_name: str | None
    actor_email: str | None
    action: str
    target_type: str
    target_id: str | None
    target_name: str | None
    project_slug: str | None
    message: str
