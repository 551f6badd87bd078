"""Browser-facing safety (tripl_api/browser.py): cookie-authenticated mutations only from this site, sign-in forms
too (login CSRF), API keys unaffected, security headers, and a Secure cookie when tripl is served over HTTPS."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.helpers import bearer, mint_key
from tests.conftest import register

EVIL = {"origin": "http://evil.example"}
NEW_PROJECT = {"name": "Stolen", "slug": "stolen"}


def _cookie_only(app, owner: TestClient) -> TestClient:
    """The owner's session cookie, and no Origin/Referer header of its own."""
    return TestClient(app, cookies=dict(owner.cookies))


def _slugs(owner: TestClient) -> set[str]:
    body = owner.get("/api/v1/projects").json()
    return {p["slug"] for p in (body["items"] if isinstance(body, dict) else body)}


def test_a_json_post_from_a_foreign_origin_with_the_session_cookie_is_refused(owner):
    r = owner.post("/api/v1/projects", json=NEW_PROJECT, headers=EVIL)
    assert r.status_code == 403
    assert "Cross-site request refused" in r.json()["detail"] and "evil.example" in r.json()["detail"]
    assert "stolen" not in _slugs(owner)
    for method in ("put", "patch", "delete"):
        assert owner.request(method, "/api/v1/projects/shop-app", json={}, headers=EVIL).status_code == 403
    assert owner.post("/api/v1/projects", json=NEW_PROJECT).status_code == 201  # same origin: fine


def test_a_multipart_upload_from_a_foreign_origin_is_refused_before_anything_runs(owner, project):
    url = "/api/v1/projects/shop-app/events/00000000-0000-0000-0000-000000000000/photos"
    files = {"file": ("a.png", b"\x89PNG\r\n\x1a\n", "image/png")}
    assert owner.post(url, files=files, headers=EVIL).status_code == 403
    assert owner.post(url, files=files).status_code == 404  # same origin: the route itself answers


def test_origin_null_and_garbage_are_foreign(owner):
    for origin in ("null", "not a url", "file:///etc/passwd", "http://testserver.evil.example",
                   "https://testserver", "http://testserver:8080"):
        r = owner.post("/api/v1/projects", json=NEW_PROJECT, headers={"origin": origin})
        assert r.status_code == 403, origin


def test_without_origin_the_referer_decides_and_without_both_the_cookie_is_not_enough(app, owner):
    bare = _cookie_only(app, owner)
    r = bare.post("/api/v1/projects", json=NEW_PROJECT)
    assert r.status_code == 403 and "Origin" in r.json()["detail"] and "API key" in r.json()["detail"]
    assert bare.post("/api/v1/projects", json=NEW_PROJECT,
                     headers={"referer": "http://evil.example/page"}).status_code == 403
    assert "stolen" not in _slugs(owner)
    assert bare.post("/api/v1/projects", json=NEW_PROJECT,
                     headers={"referer": "http://testserver/ui/projects"}).status_code == 201
    assert bare.get("/api/v1/projects").status_code == 200  # reads are not mutations


def test_the_public_base_url_is_this_site_too(owner, set_env):
    set_env(public_base_url="https://tripl.example.com")
    r = owner.post("/api/v1/projects", json=NEW_PROJECT, headers={"origin": "https://tripl.example.com"})
    assert r.status_code == 201
    assert owner.post("/api/v1/projects", json={"name": "x", "slug": "x"},
                      headers={"origin": "http://tripl.example.com"}).status_code == 403  # another scheme


def test_api_keys_are_unaffected(app, owner):
    key = mint_key(owner, scope="write")
    with TestClient(app) as program:
        r = program.post("/api/v1/projects", json=NEW_PROJECT, headers={**bearer(key["token"]), **EVIL})
    assert r.status_code == 201
    # A key beside a cookie still authenticates the API call (browsers never attach a key on their own).
    r = owner.post("/api/v1/projects", json={"name": "Other", "slug": "other"},
                   headers={**bearer(key["token"]), **EVIL})
    assert r.status_code == 201


def test_login_and_register_from_a_foreign_origin_are_refused(app, owner):
    with TestClient(app) as anon:
        r = anon.post("/api/v1/auth/login", json={"email": "owner@example.com", "password": "correct-horse-1"},
                      headers=EVIL)
        assert r.status_code == 403 and "set-cookie" not in r.headers
        r = anon.post("/api/v1/auth/register", json={"email": "new@example.com", "password": "correct-horse-1"},
                      headers=EVIL)
        assert r.status_code == 403
        r = anon.post("/ui/login", data={"email": "owner@example.com", "password": "correct-horse-1"},
                      headers=EVIL, follow_redirects=False)
        assert r.status_code == 403 and "set-cookie" not in r.headers
        # A program signing in (no browser, no Origin): allowed, there is nothing to forge.
        r = anon.post("/api/v1/auth/login", json={"email": "owner@example.com", "password": "correct-horse-1"})
        assert r.status_code == 200
    users = owner.get("/api/v1/users").json()
    assert "new@example.com" not in {u["email"] for u in (users["items"] if isinstance(users, dict) else users)}


def test_console_forms_from_this_site_work_and_from_elsewhere_do_not(app, owner):
    assert owner.post("/ui/logout", headers=EVIL, follow_redirects=False).status_code == 403
    assert owner.get("/api/v1/auth/me").status_code == 200  # still signed in
    r = owner.post("/ui/logout", follow_redirects=False)
    assert r.status_code == 303
    assert owner.get("/api/v1/auth/me").status_code == 401


def test_security_headers_on_every_response(client, owner):
    for r in (client.get("/api/v1/auth/me"), owner.get("/api/v1/projects"), client.get("/healthz"),
              owner.post("/api/v1/projects", json=NEW_PROJECT, headers=EVIL)):
        assert r.headers["x-content-type-options"] == "nosniff", r.request.url
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    for url in ("/docs", "/ui/login"):
        r = client.get(url)
        assert r.headers["content-type"].startswith("text/html")
        assert r.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_the_session_cookie_is_secure_when_served_over_https(client, set_env):
    register(client, "c@example.com")
    creds = {"email": "c@example.com", "password": "correct-horse-1"}
    cookie = client.post("/api/v1/auth/login", json=creds).headers["set-cookie"].lower()
    assert "; secure" not in cookie
    set_env(public_base_url="https://tripl.example.com")
    cookie = client.post("/api/v1/auth/login", json=creds, headers={"origin": "https://tripl.example.com"}
                         ).headers["set-cookie"].lower()
    assert "; secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
