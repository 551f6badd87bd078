"""The search documents of a branch, kept in step with the plan tables.

Rather than relying on every plan write path (ORM, bulk statements, branch copy, merge, ON DELETE CASCADE) to
notify search, `sync` compares content hashes of the plan's current documents with the stored rows before each
query and rewrites only what changed. It is one set-based statement pair, cheap next to the search itself.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Session

from tripl_core import audit, service_settings
from tripl_core.ai import client as ai_client
from tripl_core.db.models.projects import Project
from tripl_core.search import DOC_TYPES

log = logging.getLogger("tripl.search")

# One SELECT per document type: (type, id, parent, title, body, archived) of one branch.
_SOURCES = {
    "event": """
        SELECT 'event'::text AS doc_type, e.id AS object_id, e.event_type_id AS parent_id, e.name AS title,
               concat_ws(' ', e.description, et.name, et.display_name,
                         (SELECT string_agg(t.name, ' ' ORDER BY t.name) FROM event_tags t
                          WHERE t.event_id = e.id),
                         (SELECT string_agg(mv.value, ' ' ORDER BY mv.value) FROM event_meta_values mv
                          WHERE mv.event_id = e.id)) AS body,
               (e.status = 'archived') AS archived
        FROM events e JOIN event_types et ON et.id = e.event_type_id WHERE e.branch_id = :branch_id""",
    "event_type": """
        SELECT 'event_type', et.id, NULL::uuid, et.name, concat_ws(' ', et.display_name, et.description), false
        FROM event_types et WHERE et.branch_id = :branch_id""",
    "field": """
        SELECT 'field', f.id, f.event_type_id, f.name,
               concat_ws(' ', f.display_name, f.description, et.name, f.field_type::text,
                         (SELECT string_agg(o, ' ') FROM jsonb_array_elements_text(
                            CASE WHEN jsonb_typeof(f.enum_options) = 'array' THEN f.enum_options
                                 ELSE '[]'::jsonb END) o)),
               false
        FROM field_definitions f JOIN event_types et ON et.id = f.event_type_id WHERE f.branch_id = :branch_id""",
    "meta_field": """
        SELECT 'meta_field', m.id, NULL::uuid, m.name,
               concat_ws(' ', m.display_name, m.default_value,
                         (SELECT string_agg(o, ' ') FROM jsonb_array_elements_text(
                            CASE WHEN jsonb_typeof(m.enum_options) = 'array' THEN m.enum_options
                                 ELSE '[]'::jsonb END) o)),
               false
        FROM meta_field_definitions m WHERE m.branch_id = :branch_id""",
    "variable": """
        SELECT 'variable', v.id, NULL::uuid, v.name, concat_ws(' ', v.description, v.source_name), false
        FROM variables v WHERE v.branch_id = :branch_id""",
}

_UNION = " UNION ALL ".join(_SOURCES[t] for t in DOC_TYPES)
_HASH = "md5(d.title || chr(31) || d.body || d.archived::text)"

_CURRENT_HASHES = text(f"SELECT d.doc_type, d.object_id, {_HASH} AS h FROM ({_UNION}) d")
_STORED_HASHES = text("SELECT doc_type, object_id, content_hash FROM search_documents WHERE branch_id = :branch_id")
# One round trip answers "anything to do?" (the common case: nothing changed since the last search).
_UNCHANGED = text(f"""
    SELECT (SELECT md5(string_agg(d.object_id::text || {_HASH}, ',' ORDER BY d.object_id)) FROM ({_UNION}) d)
       IS NOT DISTINCT FROM
           (SELECT md5(string_agg(object_id::text || content_hash, ',' ORDER BY object_id))
            FROM search_documents WHERE branch_id = :branch_id)""")
_DELETE = text("DELETE FROM search_documents WHERE branch_id = :branch_id AND object_id = ANY(:ids)")

_INSERT = f"""
    INSERT INTO search_documents (branch_id, doc_type, object_id, project_id, parent_id, title, body, archived,
                                  content_hash, tsv, words)
    SELECT :branch_id, d.doc_type, d.object_id, :project_id, d.parent_id, d.title, d.body, d.archived, {_HASH},
           setweight(to_tsvector('english', tripl_search_text(d.title)), 'A')
             || setweight(to_tsvector('english', tripl_search_text(d.body)), 'B'),
           tripl_search_words(d.title || ' ' || d.body)
    FROM ({_UNION}) d"""
_INSERT_ALL = text(_INSERT)
_INSERT_SOME = text(_INSERT + " WHERE d.object_id = ANY(:ids)")

_BRANCH = bindparam("branch_id", type_=UUID(as_uuid=True))
_PROJECT = bindparam("project_id", type_=UUID(as_uuid=True))
_IDS = bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))


def _lock(db: Session, branch_id: uuid.UUID) -> None:
    """Serialise writers of one branch's documents (two searches at once would race on the same rows)."""
    db.execute(text("SELECT pg_advisory_xact_lock(hashtext('tripl-search:' || :b))"), {"b": str(branch_id)})


def sync(db: Session, project_id: uuid.UUID, branch_id: uuid.UUID) -> int:
    """Bring the branch's documents up to date; returns how many were rewritten. Commits when it wrote.

    The diff of (id → hash) maps happens here rather than in one anti-join statement: the planner, misled by
    fresh statistics, picked a nested loop hashing every pair (1 s for 2.6k documents); this is O(n) always."""
    params = {"branch_id": branch_id}
    if db.execute(_UNCHANGED.bindparams(_BRANCH), params).scalar_one():
        return 0
    current = {(t, i): h for t, i, h in db.execute(_CURRENT_HASHES.bindparams(_BRANCH), params)}
    stored = {(t, i): h for t, i, h in db.execute(_STORED_HASHES.bindparams(_BRANCH), params)}
    _lock(db, branch_id)
    stored = {(t, i): h for t, i, h in db.execute(_STORED_HASHES.bindparams(_BRANCH), params)}
    stale = [k[1] for k, h in stored.items() if current.get(k) != h]
    fresh = [k[1] for k, h in current.items() if stored.get(k) != h]
    if stale:
        db.execute(_DELETE.bindparams(_BRANCH, _IDS), {**params, "ids": stale})
    if fresh:
        db.execute(_INSERT_SOME.bindparams(_BRANCH, _PROJECT, _IDS),
                   {**params, "project_id": project_id, "ids": fresh})
    db.commit()
    return len(fresh)


def rebuild(db: Session, project_id: uuid.UUID, branch_id: uuid.UUID) -> int:
    """Drop and recompute every document of the branch (embeddings included); returns how many there are."""
    _lock(db, branch_id)
    db.execute(text("DELETE FROM search_documents WHERE branch_id = :branch_id").bindparams(_BRANCH),
               {"branch_id": branch_id})
    added = db.execute(_INSERT_ALL.bindparams(_BRANCH, _PROJECT),
                       {"branch_id": branch_id, "project_id": project_id}).rowcount
    db.commit()
    return added


def pending_embeddings(db: Session, branch_id: uuid.UUID, model: str) -> int:
    return db.execute(text("SELECT count(*) FROM search_documents WHERE branch_id = :b AND "
                           "(embedding IS NULL OR embedding_model IS DISTINCT FROM :m)").bindparams(
        bindparam("b", type_=UUID(as_uuid=True))), {"b": branch_id, "m": model}).scalar_one()


_workers: dict[uuid.UUID, threading.Thread] = {}
_workers_lock = threading.Lock()
_failed_at: dict[uuid.UUID, float] = {}
RETRY_AFTER_FAILURE_SECONDS = 60.0  # searches must not hammer a failing embeddings endpoint


def schedule_embeddings(branch_id: uuid.UUID, force: bool = False) -> bool:
    """Embed the branch's documents that lack a current embedding, in a background thread (one per branch).
    After a failure, searches wait a minute before trying again; a reindex (`force`) tries at once."""
    with _workers_lock:
        running = _workers.get(branch_id)
        if running is not None and running.is_alive():
            return True
        if not force and time.monotonic() - _failed_at.get(branch_id, -1e9) < RETRY_AFTER_FAILURE_SECONDS:
            return False
        worker = threading.Thread(target=_embed_worker, args=(branch_id,), daemon=True,
                                  name=f"tripl-embed-{branch_id}")
        _workers[branch_id] = worker
        worker.start()
    return True


def wait_for_embeddings(timeout: float = 30.0) -> None:
    """Join the running embedding workers (tests, shutdown)."""
    with _workers_lock:
        workers = list(_workers.values())
    for worker in workers:
        worker.join(timeout)


def _embed_worker(branch_id: uuid.UUID) -> None:
    from tripl_core.db.session import new_session
    from tripl_core.search.embeddings import embed_pending

    db = new_session()
    try:
        embed_pending(db, branch_id)
    except Exception:  # noqa: BLE001 - a background job: log and let a later search or reindex retry
        _failed_at[branch_id] = time.monotonic()
        log.exception("embedding search documents of branch %s failed", branch_id)
    finally:
        db.close()


def reindex(db: Session, actor: audit.Actor, project: Project, branch_id: uuid.UUID) -> tuple[int, bool]:
    """Rebuild a branch's documents; schedule their embeddings when configured. Returns (count, scheduled)."""
    count = rebuild(db, project.id, branch_id)
    eff = service_settings.effective(db)
    scheduled = False
    if not ai_client.embeddings_reason(eff) and pending_embeddings(db, branch_id, eff.search_embedding_model):
        scheduled = schedule_embeddings(branch_id, force=True)
    audit.record(db, actor, "search.reindex", "search_index", branch_id, project.name, project=project,
                 after={"documents_indexed": count, "embeddings_scheduled": scheduled},
                 message=f"{actor.label} reindexed search of project '{project.name}' ({count} documents)")
    db.commit()
    return count, scheduled
