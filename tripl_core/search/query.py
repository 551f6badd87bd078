"""Search Project: lexical ranking (full text + prefix + typo-tolerant expansion) fused with semantic ranking.

Typo tolerance without pg_trgm (not shipped by the embedded PostgreSQL): the query's words are compared, by
pg_trgm's trigram similarity computed in plain SQL, with the branch's vocabulary (the distinct words of its
documents); close words join the full-text query as alternatives. Full text then ranks, and `ts_headline`
marks the matches, typo or not.
"""

from __future__ import annotations

import html
import logging
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import RowMapping, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Session
from sqlalchemy.types import Text

from tripl_core import service_settings
from tripl_core.ai import client as ai_client
from tripl_core.errors import UpstreamError
from tripl_core.search import DOC_TYPES, index

log = logging.getLogger("tripl.search")

TYPO_MIN_SIMILARITY = 0.3  # pg_trgm's default similarity threshold (query word vs vocabulary word)
TYPO_ALTERNATIVES = 3
SEMANTIC_MIN_SIMILARITY = 0.25  # cosine; below it a "nearest" document is noise
RRF_K = 60
EXACT_NAME_BONUS = 10.0  # lexical score added when the query is the item's name
CANDIDATES = 100

_UUID = UUID(as_uuid=True)


@dataclass
class Hit:
    type: str
    id: uuid.UUID
    title: str
    parent_id: uuid.UUID | None
    archived: bool
    score: float
    snippet: str = ""


@dataclass
class Results:
    items: list[Hit]
    total: int
    semantic_used: bool
    terms: list[str] = field(default_factory=list)


def words(q: str) -> list[str]:
    """The query's words, split as documents are (snake_case, camelCase, punctuation), lowercased."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", q)
    return [w for w in re.split(r"[\W_]+", spaced.lower()) if w]


def trigrams(word: str) -> list[str]:
    padded = f"  {word} "
    return sorted({padded[i:i + 3] for i in range(len(padded) - 2)})


_VOCAB = text("""
    WITH v AS (SELECT DISTINCT unnest(words) AS w FROM search_documents WHERE branch_id = :b),
    g AS (SELECT DISTINCT v.w, substr('  ' || v.w || ' ', i, 3) AS tg
          FROM v, generate_series(1, length(v.w) + 1) AS i),
    tot AS (SELECT w, count(*) AS total FROM g GROUP BY w),
    qt AS (SELECT DISTINCT * FROM unnest(CAST(:qw AS text[]), CAST(:qt AS text[])) AS x(qw, tg)),
    qn AS (SELECT qw, count(*) AS n FROM qt GROUP BY qw),
    c AS (SELECT qt.qw, g.w, count(*) AS common FROM g JOIN qt ON qt.tg = g.tg GROUP BY qt.qw, g.w),
    s AS (SELECT c.qw, c.w, c.common::float / (tot.total + qn.n - c.common) AS sim
          FROM c JOIN tot ON tot.w = c.w JOIN qn ON qn.qw = c.qw WHERE c.common >= 2),
    r AS (SELECT qw, w, sim, row_number() OVER (PARTITION BY qw ORDER BY sim DESC, w) AS rn FROM s)
    SELECT qw, w, sim FROM r WHERE rn <= :candidates""").bindparams(bindparam("b", type_=_UUID))
CANDIDATES_PER_WORD = 200


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: Levenshtein plus adjacent transpositions ("serach" → "search" = 1).

    Trigram similarity alone misses transpositions in short words (pg_trgm gives "shraed"/"shared" 0.27)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def typo_alternatives(db: Session, branch_id: uuid.UUID, query_words: list[str]) -> dict[str, list[str]]:
    """Up to TYPO_ALTERNATIVES vocabulary words close to each query word of 4+ letters that is not itself in
    the vocabulary: trigram similarity ≥ TYPO_MIN_SIMILARITY, or an edit distance of 1 (2 for 8+ letters)."""
    eligible = [w for w in query_words if len(w) >= 4 and not w.isdigit()]
    if not eligible:
        return {}
    pairs = [(w, t) for w in eligible for t in trigrams(w)]
    candidates: dict[str, list[tuple[str, float]]] = {}
    for qw, w, sim in db.execute(_VOCAB, {"b": branch_id, "qw": [p[0] for p in pairs],
                                          "qt": [p[1] for p in pairs], "candidates": CANDIDATES_PER_WORD}):
        candidates.setdefault(qw, []).append((w, float(sim)))
    out: dict[str, list[str]] = {}
    for qw, cands in candidates.items():
        if any(w == qw for w, _ in cands):
            continue  # a real word of the plan: no need to guess
        max_edits = 2 if len(qw) >= 8 else 1
        scored = []
        for w, sim in cands:
            dist = edit_distance(qw, w) if abs(len(w) - len(qw)) <= max_edits else 99
            if dist <= max_edits or sim >= TYPO_MIN_SIMILARITY:
                scored.append((min(dist, 3), -sim, w))
        out[qw] = [w for _, _, w in sorted(scored)[:TYPO_ALTERNATIVES]]
    return out


def _loose_query(db: Session, branch_id: uuid.UUID, q: str) -> tuple[str, list[str]]:
    """`w1:* | alt1 | w2:* …` for to_tsquery, and every term it contains (for highlighting)."""
    query_words = list(dict.fromkeys(words(q)))
    alternatives = typo_alternatives(db, branch_id, query_words)
    parts: list[str] = []
    terms: list[str] = []
    for w in query_words:
        parts.append(f"{w}:*")
        terms.append(w)
        for alt in alternatives.get(w, []):
            parts.append(alt)
            terms.append(alt)
    return " | ".join(parts), terms


_FILTERS = "branch_id = :b AND doc_type = ANY(:types) AND (:include_archived OR NOT archived)"

_LEXICAL = text(f"""
    WITH m AS (
      SELECT doc_type, object_id, parent_id, title, archived,
             {EXACT_NAME_BONUS} * (lower(title) = lower(:q)
                                   OR lower(tripl_search_text(title)) = lower(tripl_search_text(:q)))::int
             + 2.0 * (lower(title) LIKE lower(:q_like) ESCAPE '\\')::int
             + ts_rank(tsv, strict_q) + 0.5 * ts_rank(tsv, loose_q) AS score
      FROM search_documents, websearch_to_tsquery('english', :q) AS strict_q, to_tsquery('english', :loose) AS loose_q
      WHERE {_FILTERS} AND (tsv @@ strict_q OR tsv @@ loose_q OR lower(title) = lower(:q)))
    SELECT *, count(*) OVER () AS total FROM m ORDER BY score DESC, title, object_id LIMIT :k""").bindparams(
    bindparam("b", type_=_UUID), bindparam("types", type_=ARRAY(Text)))

_SEMANTIC = text(f"""
    SELECT doc_type, object_id, parent_id, title, archived, 1 - (embedding <=> CAST(:vec AS vector)) AS score
    FROM search_documents
    WHERE {_FILTERS} AND embedding IS NOT NULL AND embedding_model = :model AND vector_dims(embedding) = :dims
    ORDER BY embedding <=> CAST(:vec AS vector) LIMIT :k""").bindparams(
    bindparam("b", type_=_UUID), bindparam("types", type_=ARRAY(Text)))

_SNIPPETS = text("""
    SELECT doc_type, object_id, ts_headline('english', esc,
             websearch_to_tsquery('english', :q) || to_tsquery('english', :loose),
             'StartSel=<mark>, StopSel=</mark>, MaxWords=30, MinWords=10, ShortWord=2, MaxFragments=2, '
             'FragmentDelimiter=" … "') AS snippet
    FROM (SELECT doc_type, object_id,
                 replace(replace(replace(title || ' — ' || body, '&', '&amp;'), '<', '&lt;'), '>', '&gt;') AS esc
          FROM search_documents WHERE branch_id = :b AND object_id = ANY(:ids)) d""").bindparams(
    bindparam("b", type_=_UUID), bindparam("ids", type_=ARRAY(_UUID)))


def _like_prefix(q: str) -> str:
    return re.sub(r"([\\%_])", r"\\\1", q) + "%"


def search(db: Session, project_id: uuid.UUID, branch_id: uuid.UUID, q: str, types: list[str] | None = None,
           include_archived: bool = False, limit: int = 20) -> Results:
    """Ranked plan items of one branch matching `q` (see the module docstring for how)."""
    index.sync(db, project_id, branch_id)
    loose, terms = _loose_query(db, branch_id, q)
    params = {"b": branch_id, "q": q, "q_like": _like_prefix(q), "loose": loose or "",
              "types": list(types or DOC_TYPES), "include_archived": include_archived, "k": CANDIDATES}
    lexical = db.execute(_LEXICAL, params).mappings().all()
    total = int(lexical[0]["total"]) if lexical else 0
    hits = {(r["doc_type"], r["object_id"]): _hit(r, float(r["score"])) for r in lexical}

    semantic = _semantic(db, branch_id, q, params)
    if semantic is not None:
        fused: dict[tuple[str, uuid.UUID], float] = {}
        for rank, r in enumerate(lexical):
            fused[(r["doc_type"], r["object_id"])] = 1.0 / (RRF_K + rank + 1)
        for rank, r in enumerate(semantic):
            key = (r["doc_type"], r["object_id"])
            if key not in hits:
                hits[key] = _hit(r, 0.0)
                total += 1
            fused[key] = fused.get(key, 0.0) + 1.0 / (RRF_K + rank + 1)
        for r in lexical:  # fusion must not demote an exact name below a merely similar document
            if float(r["score"]) >= EXACT_NAME_BONUS:
                fused[(r["doc_type"], r["object_id"])] += 1.0
        for key, score in fused.items():
            hits[key].score = score
    ranked = sorted(hits.values(), key=lambda h: -h.score)[:limit]
    _add_snippets(db, branch_id, q, loose, terms, ranked)
    for h in ranked:
        h.score = round(h.score, 6)
    return Results(items=ranked, total=total, semantic_used=semantic is not None, terms=terms)


def _hit(r: RowMapping, score: float) -> Hit:
    return Hit(type=r["doc_type"], id=r["object_id"], title=r["title"], parent_id=r["parent_id"],
               archived=r["archived"], score=score)


def _semantic(db: Session, branch_id: uuid.UUID, q: str, params: dict[str, Any]) -> list[RowMapping] | None:
    """Semantic candidates, or None when embeddings are off, the endpoint fails, or nothing is embedded yet."""
    eff = service_settings.effective(db)
    if ai_client.embeddings_reason(eff):
        return None
    if index.pending_embeddings(db, branch_id, eff.search_embedding_model):
        index.schedule_embeddings(branch_id)
    try:
        vec = ai_client.embed(eff, [q])[0]
    except UpstreamError as exc:
        log.warning("semantic search skipped: %s", exc.message)
        return None
    rows = db.execute(_SEMANTIC, {**params, "vec": "[" + ",".join(repr(x) for x in vec) + "]",
                                  "model": eff.search_embedding_model, "dims": len(vec)}).mappings().all()
    if not rows:
        return None
    return [r for r in rows if float(r["score"]) >= SEMANTIC_MIN_SIMILARITY]


def _add_snippets(db: Session, branch_id: uuid.UUID, q: str, loose: str, terms: list[str], hits: list[Hit]) -> None:
    if not hits:
        return
    rows = db.execute(_SNIPPETS, {"b": branch_id, "q": q, "loose": loose or "",
                                  "ids": [h.id for h in hits]}).all()
    by_key = {(r.doc_type, r.object_id): r.snippet for r in rows}
    for h in hits:
        snippet = by_key.get((h.type, h.id)) or html.escape(h.title, quote=False)
        h.snippet = snippet if "<mark>" in snippet else _highlight(snippet, terms)


def _highlight(escaped: str, terms: list[str]) -> str:
    """Marks term occurrences (also inside camelCase words), for matches ts_headline cannot see."""
    if not terms:
        return escaped
    alternatives = "|".join(re.escape(t) for t in sorted(set(terms), key=len, reverse=True))
    pattern = re.compile(rf"(&#?\w+;)|({alternatives})", re.I)  # entities are skipped, never split
    return pattern.sub(lambda m: m.group(1) or f"<mark>{m.group(2)}</mark>", escaped)
