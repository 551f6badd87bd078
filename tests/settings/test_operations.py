"""The 12 operations of the settings, ai and search tags are in /openapi.json with the reference's summaries."""

from __future__ import annotations

P = "/api/v1/projects/{slug}"
EXPECTED = {
    ("get", "/api/v1/settings"): ("settings", "Get Service Settings"),
    ("put", "/api/v1/settings"): ("settings", "Put Service Settings"),
    ("patch", "/api/v1/settings"): ("settings", "Patch Service Settings"),
    ("get", "/api/v1/settings/ai"): ("settings", "Get Ai Settings"),
    ("put", "/api/v1/settings/ai"): ("settings", "Put Ai Settings"),
    ("post", "/api/v1/settings/ai/test"): ("settings", "Test Ai Settings"),
    ("get", P + "/search"): ("search", "Search Project"),
    ("post", P + "/search/reindex"): ("search", "Reindex Project Search"),
    ("get", P + "/ai/status"): ("ai", "Ai Status"),
    ("post", P + "/ai/describe-event"): ("ai", "Describe Event"),
    ("post", P + "/ai/describe-event-type"): ("ai", "Describe Event Type"),
    ("post", P + "/ai/ask"): ("ai", "Ask Plan"),
}


def test_operations_in_openapi(client):
    spec = client.get("/openapi.json").json()
    for (method, path), (tag, summary) in EXPECTED.items():
        op = spec["paths"][path][method]
        assert op["summary"] == summary and op["tags"] == [tag], (method, path)
    search = {p["name"]: p for p in spec["paths"][P + "/search"]["get"]["parameters"]}
    assert search["limit"]["schema"]["maximum"] == 100 and search["limit"]["schema"]["default"] == 20
    assert search["include_archived"]["schema"]["default"] is False
    schemas = spec["components"]["schemas"]
    for name in ("RuntimeSettingsUpdate", "SecuritySettingsUpdate", "StorageSettingsUpdate",
                 "ObservabilitySettingsUpdate", "EmailSettingsUpdate", "AiSettingsUpdate"):
        assert name in schemas
    ai_fields = set(schemas["AiSettingsUpdate"]["properties"])
    assert ai_fields >= {"ai_enabled", "ai_base_url", "ai_model", "ai_api_key", "ai_timeout_seconds",
                         "ai_max_output_tokens", "describe_system_prompt", "ask_system_prompt",
                         "alert_explanation_system_prompt", "search_embeddings_enabled",
                         "search_embedding_provider", "search_embedding_model", "search_embedding_api_key"}
