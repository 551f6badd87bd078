"""Hybrid search over the tracking plan: PostgreSQL full text + typo-tolerant term expansion, optionally fused
(reciprocal rank fusion) with pgvector semantic ranking when embeddings are configured."""

DOC_TYPES = ("event", "event_type", "field", "meta_field", "variable")
