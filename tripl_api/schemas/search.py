from __future__ import annotations

import enum
import uuid

from pydantic import BaseModel, Field


class SearchDocType(enum.StrEnum):
    event = "event"
    event_type = "event_type"
    field = "field"
    meta_field = "meta_field"
    variable = "variable"


class SearchResultItem(BaseModel):
    type: SearchDocType
    id: uuid.UUID
    title: str
    snippet: str = Field(description="HTML-escaped excerpt; matches wrapped in <mark>…</mark>.")
    score: float = Field(description="Relevance (higher first); reciprocal-rank-fused when semantic_used.")
    parent_id: uuid.UUID | None = Field(None, description="The event type of a field or an event.")
    archived: bool = False


class SearchResponse(BaseModel):
    items: list[SearchResultItem]
    total: int
    semantic_used: bool


class ReindexResponse(BaseModel):
    documents_indexed: int
    embeddings_scheduled: bool
