"""Embeddings of search documents (pgvector), through the OpenAI-compatible client."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Session

from tripl_core import service_settings
from tripl_core.ai import client as ai_client
from tripl_core.db.models.search import SearchDocument

BATCH = 64


def document_text(doc_type: str, title: str, body: str) -> str:
    return f"{doc_type.replace('_', ' ')} {title}: {body}"[:4000]


def embed_pending(db: Session, branch_id: uuid.UUID) -> int:
    """Embed documents without a current embedding; returns how many were embedded. Raises UpstreamError."""
    eff = service_settings.effective(db)
    if ai_client.embeddings_reason(eff):
        return 0
    model = eff.search_embedding_model
    done = 0
    for _ in range(10_000):  # bounded: each round embeds one batch or ends
        rows = db.execute(
            select(SearchDocument.doc_type, SearchDocument.object_id, SearchDocument.title, SearchDocument.body,
                   SearchDocument.content_hash)
            .where(SearchDocument.branch_id == branch_id,
                   (SearchDocument.embedding.is_(None)) | (SearchDocument.embedding_model.is_distinct_from(model)))
            .order_by(SearchDocument.doc_type, SearchDocument.object_id).limit(BATCH)
        ).all()
        if not rows:
            return done
        vectors = ai_client.embed(eff, [document_text(r.doc_type, r.title, r.body) for r in rows])
        stmt = text("UPDATE search_documents SET embedding = CAST(:vec AS vector), embedding_model = :model "
                    "WHERE branch_id = :b AND doc_type = :t AND object_id = :o AND content_hash = :h").bindparams(
            bindparam("b", type_=UUID(as_uuid=True)), bindparam("o", type_=UUID(as_uuid=True)))
        for row, vec in zip(rows, vectors, strict=True):
            db.execute(stmt, {"vec": _literal(vec), "model": model, "b": branch_id, "t": row.doc_type,
                              "o": row.object_id, "h": row.content_hash})
        db.commit()
        done += len(rows)
        if len(rows) < BATCH:
            return done
    return done


def _literal(vec: list[float]) -> str:
    return "[" + ",".join(repr(float(x)) for x in vec) + "]"
