"""AI endpoints against a local OpenAI-compatible server: grounding, configured model/prompt, clear failures."""

from __future__ import annotations

import json
import uuid

import pytest

from tripl_core.ai.explain import explain_alert

P = "/api/v1/projects/shop-app/ai"
DESCRIBE_JSON = json.dumps({
    "description": "Fires when the user pays for an order.",
    "field_suggestions": [
        {"name": "currency", "field_type": "string", "description": "ISO 4217 code"},
        {"name": "order_total", "field_type": "number", "description": "already exists"},
        {"name": "coupon_code", "field_type": "weird", "description": "unknown type"},
        {"name": "bad name!", "field_type": "string", "description": "invalid"},
    ],
})


def test_status_off_by_default(owner, project):
    r = owner.get(P + "/status")
    assert r.status_code == 200
    assert r.json()["enabled"] is False and "ai_enabled" in r.json()["reason"]


def test_status_on(viewer, ai_on, project):
    body = viewer.get(P + "/status").json()
    assert body == {"enabled": True, "reason": None, "model": "test-model-7b", "semantic_search": False}


def test_ai_off_is_409_with_reason(owner, plan):
    for path, payload in [("/describe-event", {"event_id": str(plan.ids["checkout_completed"])}),
                          ("/describe-event-type", {"event_type_id": str(plan.ids["checkout"])}),
                          ("/ask", {"question": "what is tracked at checkout?"})]:
        r = owner.post(P + path, json=payload)
        assert r.status_code == 409, r.text
        assert "AI assistance is off" in r.json()["detail"]


def test_describe_event_is_grounded_and_uses_settings(viewer, ai_on, plan, owner):
    owner.put("/api/v1/settings/ai", json={"describe_system_prompt": "You are DESCRIBE-PROMPT-X."})
    ai_on.reply = "Here you go:\n```json\n" + DESCRIBE_JSON + "\n```"
    r = viewer.post(P + "/describe-event", json={"event_id": str(plan.ids["checkout_completed"])})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["description"] == "Fires when the user pays for an order."
    assert [s["name"] for s in body["field_suggestions"]] == ["currency", "coupon_code"]
    assert body["field_suggestions"][1]["field_type"] == "string"
    req = ai_on.chat_requests()[-1]
    assert req["json"]["model"] == "test-model-7b"
    assert req["authorization"] == "Bearer sk-test"
    assert req["json"]["messages"][0] == {"role": "system", "content": "You are DESCRIBE-PROMPT-X."}
    user = req["json"]["messages"][1]["content"]
    for grounded in ("checkout_completed", "User finished the purchase and paid", "order_total",
                     "payment_method", "revenue-critical", "checkout_started"):
        assert grounded in user
    assert req["json"]["max_tokens"] == 800


def test_describe_event_type(owner, ai_on, plan):
    ai_on.reply = DESCRIBE_JSON
    r = owner.post(P + "/describe-event-type", json={"event_type_id": str(plan.ids["checkout"])})
    assert r.status_code == 200, r.text
    user = ai_on.chat_requests()[-1]["json"]["messages"][1]["content"]
    assert "Purchase funnel steps" in user and "cartItemAdded" in user and "order_total" in user


def test_observation_hook_reaches_the_prompt(owner, ai_on, plan):
    from tripl_core.ai import context

    def observed(db, project, event_type, event):
        return {"fields": [{"name": "currency", "top_values": ["EUR", "USD"]}]}

    context.register_observations(observed)
    try:
        ai_on.reply = DESCRIBE_JSON
        owner.post(P + "/describe-event-type", json={"event_type_id": str(plan.ids["checkout"])})
        assert "USD" in ai_on.chat_requests()[-1]["json"]["messages"][1]["content"]
    finally:
        context.OBSERVATION_PROVIDERS.remove(observed)


def test_describe_unknown_ids_are_404(owner, ai_on, plan):
    assert owner.post(P + "/describe-event", json={"event_id": str(uuid.uuid4())}).status_code == 404
    assert owner.post(P + "/describe-event-type", json={"event_type_id": str(uuid.uuid4())}).status_code == 404
    r = owner.post(P + "/describe-event", json={"event_id": "nope"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "event_id"]


def test_ask_retrieves_sources_through_search(viewer, ai_on, plan, owner):
    owner.put("/api/v1/settings/ai", json={"ask_system_prompt": "ASK-PROMPT-Y"})
    ai_on.reply = "Payments are tracked by checkout_completed [1]."
    r = viewer.post(P + "/ask", json={"question": "Which event tracks the payment?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["answer"] == "Payments are tracked by checkout_completed [1]."
    assert body["semantic_used"] is False
    titles = [s["title"] for s in body["sources"]]
    assert "payment_method" in titles or "checkout_completed" in titles
    req = ai_on.chat_requests()[-1]["json"]
    assert req["messages"][0]["content"] == "ASK-PROMPT-Y"
    assert "Which event tracks the payment?" in req["messages"][1]["content"]
    assert "[1]" in req["messages"][1]["content"]


def test_ask_validation(owner, ai_on, plan):
    for q in ["hi", "x" * 501]:
        r = owner.post(P + "/ask", json={"question": q})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "question"]
    r = owner.post(P + "/ask", json={"question": "   a "})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "question"]


@pytest.mark.parametrize("setup, expected", [
    (lambda s: setattr(s, "status", 503), "HTTP 503: model overloaded"),
    (lambda s: setattr(s, "raw_body", b"<html>gateway</html>"), "did not answer with JSON"),
    (lambda s: setattr(s, "raw_body", b'{"choices": []}'), "no choices"),
    (lambda s: setattr(s, "reply", "I cannot do JSON"), "requested JSON"),
])
def test_endpoint_failures_are_502_with_reason(owner, ai_on, plan, setup, expected):
    setup(ai_on)
    r = owner.post(P + "/describe-event", json={"event_id": str(plan.ids["checkout_completed"])})
    assert r.status_code == 502, r.text
    assert expected in r.json()["detail"]


def test_timeout_and_unreachable_are_502(owner, ai_on, plan):
    owner.put("/api/v1/settings/ai", json={"ai_timeout_seconds": 1})
    ai_on.delay = 2.5
    r = owner.post(P + "/ask", json={"question": "what is tracked?"})
    assert r.status_code == 502 and "did not answer within 1 s" in r.json()["detail"]
    ai_on.delay = 0
    owner.put("/api/v1/settings/ai", json={"ai_base_url": "http://127.0.0.1:9/v1"})
    r = owner.post(P + "/ask", json={"question": "what is tracked?"})
    assert r.status_code == 502 and "unreachable" in r.json()["detail"]


def test_test_ai_settings(owner, llm):
    owner.put("/api/v1/settings/ai", json={"ai_base_url": "http://127.0.0.1:9/v1"})
    r = owner.post("/api/v1/settings/ai/test", json={})
    assert r.status_code == 200 and r.json()["ok"] is False and "unreachable" in r.json()["message"]
    owner.put("/api/v1/settings/ai", json={"ai_base_url": llm.base_url, "ai_model": "m1"})
    r = owner.post("/api/v1/settings/ai/test", json={"prompt": "Say ok"})
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True and "m1 answered: ok" in r.json()["message"]
    assert llm.chat_requests()[-1]["json"]["messages"][1]["content"] == "Say ok"
    assert llm.chat_requests()[-1]["json"]["model"] == "m1"
    assert owner.post("/api/v1/settings/ai/test", json={"prompt": ""}).status_code == 422
    llm.status = 500
    r = owner.post("/api/v1/settings/ai/test", json={})
    assert r.json()["ok"] is False and "HTTP 500" in r.json()["message"]
    assert llm.chat_requests()[-1]["json"]["messages"][1]["content"] == (
        "Reply with the word ok if the LLM connection works.")


def test_non_ascii_key_from_the_environment_fails_the_test_not_the_server(owner, llm, monkeypatch):
    from tripl_core import service_settings
    from tripl_core.settings import reset_settings_cache

    monkeypatch.setenv("TRIPL_AI_API_KEY", "sk-\u00e2\u0080\u0099")
    reset_settings_cache()
    service_settings.invalidate()
    try:
        owner.put("/api/v1/settings/ai", json={"ai_base_url": llm.base_url, "ai_model": "m1"})
        r = owner.post("/api/v1/settings/ai/test", json={})
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is False and "non-ASCII" in r.json()["message"]
        assert llm.chat_requests() == []
    finally:
        monkeypatch.delenv("TRIPL_AI_API_KEY")
        reset_settings_cache()
        service_settings.invalidate()


def test_explain_alert(db, owner, llm):
    items = [{"kind": "volume_drop", "event": "checkout_completed", "expected": 1000, "observed": 12}]
    assert explain_alert(db, items) is None  # AI off
    owner.put("/api/v1/settings/ai", json={"ai_enabled": True, "ai_base_url": llm.base_url,
                                           "alert_explanation_system_prompt": "EXPLAIN-Z"})
    llm.reply = "Checkout volume collapsed; check the last release."
    assert explain_alert(db, items) == "Checkout volume collapsed; check the last release."
    req = llm.chat_requests()[-1]["json"]
    assert req["messages"][0]["content"] == "EXPLAIN-Z" and "volume_drop" in req["messages"][1]["content"]
    llm.status = 500
    assert explain_alert(db, items) is None
    assert explain_alert(db, []) is None


def test_observed_variable_values_reach_the_prompt(owner, ai_on, plan, db):
    from tripl_core.db.models.plan import EventFieldValue
    from tripl_core.db.models.plan_extras import VariableValue

    db.add(EventFieldValue(event_id=plan.ids["cartItemAdded"], field_definition_id=plan.ids["payment_method"],
                           branch_id=plan.branch_id, value="{screen}"))
    db.add_all([VariableValue(variable_id=plan.ids["screen"], project_id=plan.project_id, value=v, occurrences=n)
                for v, n in [("product_page", 900), ("search_page", 300)]])
    db.commit()
    ai_on.reply = DESCRIBE_JSON
    r = owner.post(P + "/describe-event", json={"event_id": str(plan.ids["cartItemAdded"])})
    assert r.status_code == 200, r.text
    user = ai_on.chat_requests()[-1]["json"]["messages"][1]["content"]
    assert "product_page" in user and "search_page" in user
