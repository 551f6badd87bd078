"""Describe Event / Describe Event Type / Ask Plan / Ai Status: prompts grounded in the plan."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tripl_core import service_settings
from tripl_core.ai import client, context
from tripl_core.db.models.plan import FieldType, PlanBranch
from tripl_core.db.models.projects import Project
from tripl_core.db.models.search import SearchDocument
from tripl_core.errors import UpstreamError
from tripl_core.search import query as search_query

MAX_SUGGESTIONS = 10
ASK_SOURCES = 8
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]{0,99}$")


@dataclass
class FieldSuggestion:
    name: str
    field_type: str
    description: str


@dataclass
class Description:
    description: str
    field_suggestions: list[FieldSuggestion] = field(default_factory=list)


def status(db: Session) -> dict[str, Any]:
    eff = service_settings.effective(db)
    reason = client.disabled_reason(eff)
    return {"enabled": reason is None, "reason": reason, "model": eff.ai_model if reason is None else None,
            "semantic_search": client.embeddings_reason(eff) is None}


def _suggestions(raw: Any, existing: set[str]) -> list[FieldSuggestion]:
    """Keep well-formed suggestions of fields the type does not have yet; unknown types become string."""
    out: list[FieldSuggestion] = []
    if not isinstance(raw, list):
        return out
    types = {t.value for t in FieldType}
    for item in raw:
        if not isinstance(item, dict):
            continue
        name = str(item.get("name") or "").strip()
        if not _NAME.match(name) or name.lower() in existing:
            continue
        ftype = str(item.get("field_type") or item.get("type") or "string").lower()
        out.append(FieldSuggestion(name=name, field_type=ftype if ftype in types else "string",
                                   description=str(item.get("description") or "")[:1000]))
        existing.add(name.lower())
        if len(out) >= MAX_SUGGESTIONS:
            break
    return out


def _describe(db: Session, kind: str, data: dict[str, Any], existing: set[str]) -> Description:
    eff = service_settings.effective(db)
    client.require_enabled(eff)
    answer = client.chat(eff, eff.describe_system_prompt,
                         f"Describe this {kind} of the tracking plan.\n\n{context.to_prompt(data)}")
    parsed = client.parse_json_answer(answer)
    description = parsed.get("description")
    if not isinstance(description, str) or not description.strip():
        raise UpstreamError("The AI endpoint's JSON has no description.")
    return Description(description=description.strip()[:4000],
                       field_suggestions=_suggestions(parsed.get("field_suggestions"), existing))


def describe_event(db: Session, project: Project, branch: PlanBranch, event_id: Any) -> Description:
    event = context.get_event(db, branch, event_id)
    data = context.event_context(db, project, event)
    return _describe(db, "event", data, {f["name"].lower() for f in data["fields"]})


def describe_event_type(db: Session, project: Project, branch: PlanBranch, event_type_id: Any) -> Description:
    et = context.get_event_type(db, branch, event_type_id)
    data = context.event_type_context(db, project, et)
    return _describe(db, "event type", data, {f["name"].lower() for f in data["fields"]})


@dataclass
class Answer:
    answer: str
    sources: list[search_query.Hit]
    semantic_used: bool


def ask(db: Session, project: Project, branch: PlanBranch, question: str) -> Answer:
    """Retrieve plan items through search, then answer from them (and a plan overview) only."""
    eff = service_settings.effective(db)
    client.require_enabled(eff)
    found = search_query.search(db, project.id, branch.id, question, limit=ASK_SOURCES)
    bodies = {(d.doc_type, d.object_id): d.body for d in db.scalars(
        select(SearchDocument).where(SearchDocument.branch_id == branch.id,
                                     SearchDocument.object_id.in_([h.id for h in found.items])))}
    excerpts = "\n".join(
        f"[{n}] {h.type.replace('_', ' ')} {h.title}: {bodies.get((h.type, h.id), '')[:600]}"
        for n, h in enumerate(found.items, start=1)) or "(no plan item matched the question)"
    overview = context.to_prompt(context.plan_overview(db, branch))
    message = (f"Project: {project.name}\nPlan overview: {overview}\n\nPlan excerpts:\n{excerpts}\n\n"
               f"Question: {question}")
    return Answer(answer=client.chat(eff, eff.ask_system_prompt, message), sources=found.items,
                  semantic_used=found.semantic_used)
