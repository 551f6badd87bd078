from __future__ import annotations

import uuid

from pydantic import BaseModel, Field

from tripl_api.schemas.search import SearchResultItem


class AiStatusResponse(BaseModel):
    enabled: bool
    reason: str | None = Field(None, description="Why AI is unavailable, when it is.")
    model: str | None = None
    semantic_search: bool = Field(False, description="Whether search embeddings are configured.")


class DescribeEventRequest(BaseModel):
    event_id: uuid.UUID


class DescribeEventTypeRequest(BaseModel):
    event_type_id: uuid.UUID


class FieldSuggestion(BaseModel):
    name: str
    field_type: str = Field(description="One of the plan's field types (string, number, boolean, json, enum, url).")
    description: str


class DescribeResponse(BaseModel):
    description: str
    field_suggestions: list[FieldSuggestion]


class AskRequest(BaseModel):
    question: str = Field(min_length=3, max_length=500)


class AskResponse(BaseModel):
    answer: str
    sources: list[SearchResultItem] = Field(description="The plan items given to the model, best first.")
    semantic_used: bool
