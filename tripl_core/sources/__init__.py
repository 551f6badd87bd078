"""Warehouse-facing domain: data sources (connections), scan configs, and scan previews.

Adapters and SQL live in `tripl_core.warehouse`; these modules hold the rules, persistence and audit.
"""
