"""AI assistance: 409 when AI is off, 502 with the reason when the endpoint fails (never a 500)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from tripl_api.deps import DB, ProjectRead
from tripl_api.plan_deps import PlanRead
from tripl_api.schemas.ai import (
    AiStatusResponse,
    AskRequest,
    AskResponse,
    DescribeEventRequest,
    DescribeEventTypeRequest,
    DescribeResponse,
)
from tripl_core.ai import assist
from tripl_core.errors import Invalid

router = APIRouter(prefix="/api/v1/projects/{slug}/ai", tags=["ai"])


@router.get("/status", summary="Ai Status", response_model=AiStatusResponse)
def ai_status(db: DB, _: ProjectRead):
    return assist.status(db)


@router.post("/describe-event", summary="Describe Event", response_model=DescribeResponse)
def describe_event(body: DescribeEventRequest, db: DB, plan: PlanRead):
    return asdict(assist.describe_event(db, plan.project, plan.branch, body.event_id))


@router.post("/describe-event-type", summary="Describe Event Type", response_model=DescribeResponse)
def describe_event_type(body: DescribeEventTypeRequest, db: DB, plan: PlanRead):
    return asdict(assist.describe_event_type(db, plan.project, plan.branch, body.event_type_id))


@router.post("/ask", summary="Ask Plan", response_model=AskResponse)
def ask_plan(body: AskRequest, db: DB, plan: PlanRead):
    question = body.question.strip()
    if len(question) < 3 or "\x00" in question:
        raise Invalid("question", "Ask a question of at least 3 characters (no NUL characters).")
    res = assist.ask(db, plan.project, plan.branch, question)
    return AskResponse(answer=res.answer, sources=[h.__dict__ for h in res.sources], semantic_used=res.semantic_used)
