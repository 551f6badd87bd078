"""Project summary provider of the findings: `open_drifts` (open schema drifts), one statement for all projects."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tripl_core.db.models.findings import DriftStatus, SchemaDrift


def findings_summary(db: Session, project_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    rows = db.execute(select(SchemaDrift.project_id, func.count()).where(
        SchemaDrift.project_id.in_(project_ids), SchemaDrift.status == DriftStatus.open)
        .group_by(SchemaDrift.project_id))
    return {pid: {"open_drifts": int(n)} for pid, n in rows}
