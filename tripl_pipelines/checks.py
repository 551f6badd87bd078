"""Findings as Dagster asset checks: contract breaches (schema drifts) and volume anomalies of a run's days, with
severity, counts and links back to tripl's console (tripl_core.links), so the UI shows red / green per run of a
config's days next to the materializations that found them."""

from datetime import datetime, timedelta

import dagster as dg
from sqlalchemy import select
from sqlalchemy.orm import Session

from tripl_core import links
from tripl_core.db.models.findings import AnomalySignal, DriftStatus, SchemaDrift
from tripl_core.db.models.projects import Project
from tripl_core.db.models.sources import ScanConfig
from tripl_core.settings import get_settings

CONTRACT_CHECK = "contract_breaches"
VOLUME_CHECK = "volume_anomalies"
MAX_LINKS = 5


def _base() -> str:
    return links.base_url(get_settings())


def contract_check(db: Session, cfg: ScanConfig, days: list[datetime]) -> dg.AssetCheckResult:
    """Fails (WARN) while schema drifts seen in these days are open (accepted / snoozed ones do not count)."""
    start, end = days[0], days[-1] + timedelta(days=1)
    slug = db.get(Project, cfg.project_id).slug
    rows = list(db.scalars(select(SchemaDrift).where(
        SchemaDrift.scan_config_id == cfg.id, SchemaDrift.status == DriftStatus.open,
        SchemaDrift.last_seen_at >= start, SchemaDrift.detected_at < end).order_by(SchemaDrift.field_name)))
    lines = [f"- [{r.drift_type.value} `{r.field_name}`]({links.finding_page(_base(), slug, 'schema_drift', r.id)})"
             for r in rows[:MAX_LINKS]]
    more = [f"- … {len(rows) - MAX_LINKS} more"] if len(rows) > MAX_LINKS else []
    text = "\n".join(lines + more) or "No open contract breach."
    return dg.AssetCheckResult(
        check_name=CONTRACT_CHECK, passed=not rows, severity=dg.AssetCheckSeverity.WARN,
        metadata={"open_drifts": len(rows), "days": f"{start:%Y-%m-%d}..{days[-1]:%Y-%m-%d}",
                  "findings": dg.MetadataValue.md(text),
                  "console": dg.MetadataValue.url(links.project_page(_base(), slug))})


def volume_check(db: Session, cfg: ScanConfig, days: list[datetime]) -> dg.AssetCheckResult:
    """Fails (WARN) when volume incidents touch these days."""
    start, end = days[0], days[-1] + timedelta(days=1)
    slug = db.get(Project, cfg.project_id).slug
    rows = list(db.scalars(select(AnomalySignal).where(
        AnomalySignal.scan_config_id == cfg.id, AnomalySignal.bucket >= start, AnomalySignal.since < end)
        .order_by(AnomalySignal.peak_z.desc())))
    lines = [f"- [{r.direction} since {r.since:%Y-%m-%d %H:%M}, z {r.peak_z:.1f}]"
             f"({links.finding_page(_base(), slug, 'signal', r.id)})" for r in rows[:MAX_LINKS]]
    more = [f"- … {len(rows) - MAX_LINKS} more"] if len(rows) > MAX_LINKS else []
    text = "\n".join(lines + more) or "No volume anomaly."
    return dg.AssetCheckResult(
        check_name=VOLUME_CHECK, passed=not rows, severity=dg.AssetCheckSeverity.WARN,
        metadata={"signals": len(rows), "open_signals": sum(r.status.value == "open" for r in rows),
                  "days": f"{start:%Y-%m-%d}..{days[-1]:%Y-%m-%d}", "findings": dg.MetadataValue.md(text),
                  "console": dg.MetadataValue.url(links.project_page(_base(), slug))})
