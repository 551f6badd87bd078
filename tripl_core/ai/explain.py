"""Alert explanations for alert messages: a few sentences from the LLM, or None (AI off or failing).

Alert delivery must never fail because of the explanation, so this never raises.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from tripl_core import service_settings
from tripl_core.ai import client
from tripl_core.errors import DomainError

log = logging.getLogger("tripl.ai")
MAX_ITEMS_CHARS = 8000


def explain_alert(db: Session, items: Sequence[dict[str, Any]]) -> str | None:
    """`items`: the findings of one alert (kind, scope, metric, expected vs observed, window…), as dicts."""
    if not items:
        return None
    try:
        eff = service_settings.effective(db)
        if client.disabled_reason(eff):
            return None
        payload = json.dumps(list(items), ensure_ascii=False, default=str, indent=1)[:MAX_ITEMS_CHARS]
        return client.chat(eff, eff.alert_explanation_system_prompt,
                           f"Explain this alert ({len(items)} finding(s)):\n{payload}")
    except DomainError as exc:
        log.warning("alert explanation skipped: %s", exc.message)
        return None
    except Exception:  # noqa: BLE001 - an explanation is optional; the alert goes out without it
        log.exception("alert explanation failed")
        return None
