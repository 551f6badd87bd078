"""Service settings: precedence default < env < override, secrets write-only, partial upserts, validation, audit."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import register
from tripl_core import service_settings
from tripl_core.db.models.audit import AuditEntry
from tripl_core.db.models.service import ServiceSettingOverride
from tripl_core.settings import reset_settings_cache

URL = "/api/v1/settings"


def test_defaults_and_sections(owner):
    r = owner.get(URL)
    assert r.status_code == 200, r.text
    body = r.json()
    for section in ("runtime", "security", "storage", "observability", "email", "ai", "system"):
        assert section in body
    assert body["security"]["session_ttl_hours"] == 336
    assert body["ai"]["ai_enabled"] is False
    assert body["ai"]["ai_api_key_set"] is False and "ai_api_key" not in body["ai"]
    assert body["email"]["smtp_password_set"] is False
    assert body["sources"]["session_ttl_hours"] == "default"
    assert body["overridden_fields"] == []
    assert "test-secret-key" not in r.text  # boot secrets never shown
    assert body["system"]["secret_key_set"] is True


def test_precedence_default_env_override(owner, monkeypatch):
    monkeypatch.setenv("TRIPL_SESSION_TTL_HOURS", "48")
    reset_settings_cache()
    body = owner.get(URL).json()
    assert body["security"]["session_ttl_hours"] == 48
    assert body["sources"]["session_ttl_hours"] == "env"

    body = owner.patch(URL, json={"security": {"session_ttl_hours": 12}}).json()
    assert body["security"]["session_ttl_hours"] == 12
    assert body["sources"]["session_ttl_hours"] == "override"
    assert body["overridden_fields"] == ["session_ttl_hours"]

    body = owner.patch(URL, json={"security": {"session_ttl_hours": None}}).json()  # null removes the override
    assert body["security"]["session_ttl_hours"] == 48
    assert body["sources"]["session_ttl_hours"] == "env"


def test_put_and_patch_are_partial_upserts(owner):
    owner.put(URL, json={"security": {"login_max_failures": 7}, "runtime": {"environment": "staging"}})
    body = owner.put(URL, json={"storage": {"photo_max_bytes": 2048}}).json()
    assert body["security"]["login_max_failures"] == 7
    assert body["runtime"]["environment"] == "staging"
    assert body["storage"]["photo_max_bytes"] == 2048
    assert set(body["overridden_fields"]) == {"login_max_failures", "environment", "photo_max_bytes"}
    body = owner.patch(URL, json={"security": {}}).json()  # empty section: nothing changes
    assert body["security"]["login_max_failures"] == 7


def test_secrets_are_write_only_and_encrypted(owner, db):
    r = owner.put(URL, json={"ai": {"ai_api_key": "sk-very-secret"}, "email": {"smtp_password": "hunter22"}})
    assert r.status_code == 200, r.text
    assert "sk-very-secret" not in r.text and "hunter22" not in r.text
    assert r.json()["ai"]["ai_api_key_set"] is True
    assert r.json()["email"]["smtp_password_set"] is True
    row = db.get(ServiceSettingOverride, "ai_api_key")
    assert row.value is None and row.secret_ciphertext and "sk-very-secret" not in row.secret_ciphertext
    assert service_settings.effective(db).ai_api_key == "sk-very-secret"
    entries = db.scalars(select(AuditEntry).where(AuditEntry.action == "settings.update")).all()
    assert entries and all("sk-very-secret" not in str(e.before) + str(e.after) for e in entries)
    assert entries[-1].after.get("ai_api_key_set") is True
    # "" clears a secret
    body = owner.patch(URL, json={"ai": {"ai_api_key": ""}}).json()
    assert body["ai"]["ai_api_key_set"] is False


def test_audit_records_changes(owner, db):
    owner.patch(URL, json={"security": {"registration_open": False}})
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "settings.update")).one()
    assert entry.before == {"registration_open": True}
    assert entry.after == {"registration_open": False}
    assert entry.actor_email == "owner@example.com"


def _loc(r):
    assert r.status_code == 422, r.text
    return r.json()["detail"][0]["loc"]


def test_validation_names_the_field(owner):
    assert _loc(owner.patch(URL, json={"security": {"session_ttl_hours": 0}})) == [
        "body", "security", "session_ttl_hours"]
    assert _loc(owner.put(URL, json={"security": {"session_ttl_hours": 9000}})) == [
        "body", "security", "session_ttl_hours"]
    assert _loc(owner.patch(URL, json={"security": {"no_such": 1}})) == ["body", "security", "no_such"]
    assert _loc(owner.patch(URL, json={"system": {"port": 1}})) == ["body", "system"]
    assert _loc(owner.patch(URL, json={"ai": {"ai_base_url": "ftp://x"}})) == ["body", "ai", "ai_base_url"]
    assert _loc(owner.patch(URL, json={"observability": {"log_level": "loud"}})) == [
        "body", "observability", "log_level"]
    assert _loc(owner.patch(URL, json={"email": {"smtp_port": 70000}})) == ["body", "email", "smtp_port"]
    assert _loc(owner.patch(URL, json={"email": {"smtp_from": "nobody"}})) == ["body", "email", "smtp_from"]
    assert _loc(owner.patch(URL, json={"ai": {"ai_max_output_tokens": 0}})) == [
        "body", "ai", "ai_max_output_tokens"]
    assert _loc(owner.patch(URL, json={"ai": {"search_embedding_provider": "magic"}})) == [
        "body", "ai", "search_embedding_provider"]
    assert _loc(owner.patch(URL, json={"ai": {"ai_model": "gpt\u0000"}})) == ["body", "ai", "ai_model"]
    # API keys travel in an Authorization header: visible ASCII only (a 500 when the key was used, before)
    for key in ("sk-\u00e2\u0080\u0099", "sk test", "sk-\n"):
        assert _loc(owner.patch(URL, json={"ai": {"ai_api_key": key}})) == ["body", "ai", "ai_api_key"]
        assert _loc(owner.put(f"{URL}/ai", json={"search_embedding_api_key": key})) == [
            "body", "search_embedding_api_key"]
    assert _loc(owner.patch(URL, json={"email": {"smtp_ssl": True, "smtp_starttls": True}})) == [
        "body", "email", "smtp_starttls"]
    # nothing was written by the failed requests
    assert owner.get(URL).json()["overridden_fields"] == []


def test_owner_only(owner, editor, viewer):
    for c in (editor, viewer):
        assert c.get(URL).status_code == 403
        assert c.patch(URL, json={"runtime": {"environment": "x"}}).status_code == 403
        assert c.get(URL + "/ai").status_code == 403
        assert c.put(URL + "/ai", json={"ai_enabled": True}).status_code == 403


def test_registration_open_takes_effect_without_restart(owner, app):
    from fastapi.testclient import TestClient

    assert owner.patch(URL, json={"security": {"registration_open": False}}).status_code == 200
    r = TestClient(app).post("/api/v1/auth/register",
                             json={"email": "late@example.com", "password": "correct-horse-1"})
    assert r.status_code == 403
    owner.patch(URL, json={"security": {"registration_open": None}})
    register(TestClient(app), "late@example.com")


def test_session_ttl_override_applies_to_login(owner, app):
    from fastapi.testclient import TestClient

    owner.patch(URL, json={"security": {"session_ttl_hours": 2}})
    c = TestClient(app)
    register(c, "ttl@example.com")
    r = c.post("/api/v1/auth/login", json={"email": "ttl@example.com", "password": "correct-horse-1"})
    assert r.status_code == 200
    assert "Max-Age=7200" in r.headers["set-cookie"]


def test_ai_section_get_and_put(owner):
    r = owner.get(URL + "/ai")
    assert r.status_code == 200
    assert set(r.json()) == {"ai", "overridden_fields", "sources"}
    r = owner.put(URL + "/ai", json={"ai_enabled": True, "ai_model": "llama3", "ai_timeout_seconds": 5,
                                     "ai_api_key": "k"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ai"]["ai_enabled"] is True and body["ai"]["ai_model"] == "llama3"
    assert body["ai"]["ai_api_key_set"] is True
    assert set(body["overridden_fields"]) == {"ai_enabled", "ai_model", "ai_timeout_seconds", "ai_api_key"}
    assert "security" not in body["sources"] and "session_ttl_hours" not in body["sources"]
    # partial: a later PUT with one field keeps the others
    body = owner.put(URL + "/ai", json={"ai_timeout_seconds": 9}).json()
    assert body["ai"]["ai_model"] == "llama3" and body["ai"]["ai_timeout_seconds"] == 9
    r = owner.put(URL + "/ai", json={"ai_timeout_seconds": 0})
    assert _loc(r) == ["body", "ai_timeout_seconds"]
    assert _loc(owner.put(URL + "/ai", json={"describe_system_prompt": ""})) == ["body", "describe_system_prompt"]


def test_effective_cache_invalidated_on_write(owner, db):
    assert service_settings.effective(db).photo_max_bytes == 10 * 1024 * 1024
    owner.patch(URL, json={"storage": {"photo_max_bytes": 4096}})
    assert service_settings.effective(db).photo_max_bytes == 4096
    assert service_settings.effective(db).as_settings().photo_max_bytes == 4096


def test_other_processes_see_changes_within_the_ttl(owner, db, monkeypatch):
    """A write by another process (here: straight to the table) shows once the short cache expires."""
    now = [service_settings.time.monotonic() + 1000.0]
    monkeypatch.setattr(service_settings.time, "monotonic", lambda: now[0])
    assert service_settings.effective(db).login_max_failures == 5
    db.add(ServiceSettingOverride(key="login_max_failures", value=9))
    db.commit()
    assert service_settings.effective(db).login_max_failures == 5  # cached
    now[0] += service_settings.CACHE_TTL_SECONDS + 0.1
    eff = service_settings.effective(db)
    assert eff.login_max_failures == 9 and eff.sources["login_max_failures"] == "override"


def test_undecryptable_secret_reads_as_unset(owner, db):
    db.add(ServiceSettingOverride(key="ai_api_key", secret_ciphertext="not-a-fernet-token"))
    db.commit()
    service_settings.invalidate()
    assert service_settings.effective(db).ai_api_key is None
    assert owner.get(URL).json()["ai"]["ai_api_key_set"] is False


def test_env_values_outside_api_ranges_are_shown_not_500(owner, monkeypatch):
    monkeypatch.setenv("TRIPL_LOG_LEVEL", "INFO")
    monkeypatch.setenv("TRIPL_AI_BASE_URL", "localhost:11434")
    reset_settings_cache()
    r = owner.get(URL)
    assert r.status_code == 200, r.text
    assert r.json()["observability"]["log_level"] == "INFO"
    assert r.json()["sources"]["ai_base_url"] == "env"
    # but the API itself only accepts valid values
    assert _loc(owner.put(URL + "/ai", json={"ai_base_url": "localhost:11434"})) == ["body", "ai_base_url"]
