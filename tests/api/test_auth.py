"""Register, Login, Logout, Get Me: validation, roles of new users, cookies, sessions, throttling."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from tests.conftest import login, register
from tripl_core.db.models.auth import User, UserSession

REGISTER = "/api/v1/auth/register"
LOGIN = "/api/v1/auth/login"


def _loc(r) -> list[list]:
    return [e["loc"] for e in r.json()["detail"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": "long-enough"}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com", "password": "x" * 256}, "password"),
        ({"password": "long-enough"}, "email"),
        ({"email": "a@example.com"}, "password"),
        ({"email": "a@example.com", "password": "long-enough", "name": "n" * 256}, "name"),
    ],
)
def test_register_rejects_bad_input_naming_the_field(client, body, field):
    r = client.post(REGISTER, json=body)
    assert r.status_code == 422
    assert ["body", field] in _loc(r)


def test_register_password_bounds_are_inclusive(client):
    assert client.post(REGISTER, json={"email": "a@example.com", "password": "x" * 8}).status_code == 201
    assert client.post(REGISTER, json={"email": "b@example.com", "password": "x" * 255}).status_code == 201


def test_first_user_is_owner_later_ones_viewers(client, db):
    first = register(client, "first@example.com")
    second = register(client, "second@example.com")
    assert first["role"] == "owner"
    assert second["role"] == "viewer"
    assert set(first) == {"id", "email", "name", "role", "created_at", "updated_at"}
    # only an argon2 hash is stored
    stored = db.scalar(select(User.password_hash).where(User.email == "first@example.com"))
    assert stored.startswith("$argon2") and "correct-horse-1" not in stored


def test_register_normalises_email_and_rejects_duplicates(client):
    register(client, "Mixed@Example.COM")
    r = client.post(REGISTER, json={"email": "mixed@example.com", "password": "long-enough"})
    assert r.status_code == 409


def test_registration_closed_by_setting(client, set_env):
    register(client, "owner@example.com")  # the first user may always register
    set_env(registration_open=False)
    r = client.post(REGISTER, json={"email": "late@example.com", "password": "long-enough"})
    assert r.status_code == 403
    assert "closed" in r.json()["detail"].lower()


def test_registration_closed_still_admits_the_first_user(client, set_env):
    set_env(registration_open=False)
    assert register(client, "owner@example.com")["role"] == "owner"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "ab", "password": "long-enough"}, "email"),
        ({"email": "a" * 321, "password": "long-enough"}, "email"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com", "password": "p" * 256}, "password"),
    ],
)
def test_login_validation(client, body, field):
    r = client.post(LOGIN, json=body)
    assert r.status_code == 422
    assert ["body", field] in _loc(r)


def test_login_errors_do_not_say_which_part_was_wrong(client):
    register(client, "ann@example.com")
    unknown = client.post(LOGIN, json={"email": "nobody@example.com", "password": "correct-horse-1"})
    wrong = client.post(LOGIN, json={"email": "ann@example.com", "password": "wrong-password"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()
    assert "set-cookie" not in unknown.headers and "set-cookie" not in wrong.headers


def test_login_sets_httponly_lax_cookie_and_me_works(client):
    register(client, "ann@example.com", name="Ann")
    r = client.post(LOGIN, json={"email": "ANN@example.com", "password": "correct-horse-1"})
    assert r.status_code == 200
    assert r.json()["email"] == "ann@example.com"
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith("tripl_session=")
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie.replace("httponly", "")
    assert "max-age=" in cookie
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["name"] == "Ann"


def test_cookie_secure_when_configured(client, set_env):
    set_env(cookie_secure=True)
    register(client, "ann@example.com")
    r = client.post(LOGIN, json={"email": "ann@example.com", "password": "correct-horse-1"})
    assert "; secure" in r.headers["set-cookie"].lower()


def test_session_token_is_stored_hashed(client, db):
    register(client, "ann@example.com")
    login(client, "ann@example.com")
    token = client.cookies.get("tripl_session")
    hashes = list(db.scalars(select(UserSession.token_hash)))
    assert len(hashes) == 1 and token not in hashes


def test_logout_invalidates_the_session(client, app, db):
    from fastapi.testclient import TestClient

    register(client, "ann@example.com")
    login(client, "ann@example.com")
    token = client.cookies.get("tripl_session")
    r = client.post("/api/v1/auth/logout")
    assert r.status_code == 204
    assert 'tripl_session=""' in r.headers["set-cookie"] or "max-age=0" in r.headers["set-cookie"].lower()
    assert db.scalar(select(func.count()).select_from(UserSession)) == 0
    assert db.scalar(text("select count(*) from audit_log where action = 'user.logout'")) == 1
    # the old token, replayed by someone who kept it, is dead server-side
    with TestClient(app, cookies={"tripl_session": token}) as replay:
        assert replay.get("/api/v1/auth/me").status_code == 401


def test_logout_needs_a_session(client):
    assert client.post("/api/v1/auth/logout").status_code == 401


def test_expired_session_is_rejected(client, db):
    register(client, "ann@example.com")
    login(client, "ann@example.com")
    assert client.get("/api/v1/auth/me").status_code == 200
    db.execute(text("update user_sessions set expires_at = now() - interval '1 second'"))
    db.commit()
    assert client.get("/api/v1/auth/me").status_code == 401


def test_unknown_session_token_is_rejected(app):
    from fastapi.testclient import TestClient

    with TestClient(app, cookies={"tripl_session": "forged"}) as c:
        assert c.get("/api/v1/auth/me").status_code == 401


def _fail(client, email: str):
    return client.post(LOGIN, json={"email": email, "password": "wrong-password"})


def test_throttle_per_email_with_retry_after(client, set_env):
    set_env(login_max_failures=3, login_failure_window_seconds=600)
    register(client, "ann@example.com")
    for _ in range(3):
        assert _fail(client, "ann@example.com").status_code == 401
    r = client.post(LOGIN, json={"email": "ann@example.com", "password": "correct-horse-1"})
    assert r.status_code == 429  # even the right password waits: the attacker must not learn it
    retry = int(r.headers["retry-after"])
    assert 1 <= retry <= 600
    # another email from the same address is not yet throttled (the IP limit is 4x higher)
    register(client, "bob@example.com")
    login(client, "bob@example.com")


def test_throttle_per_ip_across_emails(client, set_env):
    set_env(login_max_failures=2)
    register(client, "ann@example.com")
    for i in range(8):  # 4 x 2 failures, each email below its own limit
        assert _fail(client, f"guess{i // 2}@example.com").status_code in (401, 429)
    r = client.post(LOGIN, json={"email": "ann@example.com", "password": "correct-horse-1"})
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) >= 1


def test_throttle_window_expires(client, set_env, db):
    set_env(login_max_failures=2)
    register(client, "ann@example.com")
    for _ in range(2):
        _fail(client, "ann@example.com")
    assert _fail(client, "ann@example.com").status_code == 429
    db.execute(text("update login_failures set created_at = now() - interval '1 hour'"))
    db.commit()
    login(client, "ann@example.com")


def test_successful_login_clears_failures(client, set_env):
    set_env(login_max_failures=3)
    register(client, "ann@example.com")
    _fail(client, "ann@example.com")
    _fail(client, "ann@example.com")
    login(client, "ann@example.com")
    _fail(client, "ann@example.com")
    _fail(client, "ann@example.com")
    login(client, "ann@example.com")  # would be the 5th failure-window entry without the reset


def test_me_needs_credentials(client):
    r = client.get("/api/v1/auth/me")
    assert r.status_code == 401
    assert r.json() == {"detail": "Not authenticated."}
