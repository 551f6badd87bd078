def test_health(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_register_login_me(client):
    r = client.post("/api/v1/auth/register", json={"email": "A@Example.com", "password": "longenough", "name": "A"})
    assert r.status_code == 201, r.text
    assert r.json()["role"] == "owner"
    assert client.get("/api/v1/auth/me").status_code == 401
    r = client.post("/api/v1/auth/login", json={"email": "a@example.com", "password": "longenough"})
    assert r.status_code == 200
    assert client.get("/api/v1/auth/me").json()["email"] == "a@example.com"
