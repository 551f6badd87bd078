"""An honest start: `tripl up --demo` opens with the addresses (one host) and an owner's login, and the README's
first steps work right after it."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from fastapi.testclient import TestClient

from tests.conftest import SAME_ORIGIN
from tripl_core import cli, startup
from tripl_core.db.models.auth import User, UserRole
from tripl_core.demo import load


def _settings(**kw):
    base = {"public_base_url": None, "host": "0.0.0.0", "port": 8123, "dagster_port": 3123,
            "webhook_sink_port": 8124, "data_dir": Path("/tmp/x")}
    return SimpleNamespace(**{**base, **kw})


def test_banner_is_one_host_and_names_the_login():
    lines = startup.banner(_settings(), dagster=True, login=("demo@tripl.local", "s3cret"))
    assert lines[0] == "tripl console  http://127.0.0.1:8123/ui/"
    assert "http://127.0.0.1:8123/docs" in lines[1] and "http://127.0.0.1:3123" in lines[2]
    assert "demo@tripl.local / s3cret" in lines[3] and "owner" in lines[3]
    hosts = set(re.findall(r"https?://([^:/]+)", "\n".join(lines)))
    assert hosts == {"127.0.0.1"}, hosts  # never a mix of localhost and 127.0.0.1 (the cookie is per host)
    public = startup.banner(_settings(public_base_url="https://tripl.example.com/"), dagster=False)
    assert public[0] == "tripl console  https://tripl.example.com/ui/" and len(public) == 2


def test_uvicorn_is_quiet_at_the_default_level():
    assert cli._uvicorn_level("info") == "warning"
    assert cli._uvicorn_level("debug") == "debug"


def test_demo_login_is_an_owner_kept_across_starts(db, tmp_path, monkeypatch):
    monkeypatch.setattr(load, "login_file", lambda: tmp_path / "demo-login.txt")
    email, password = load.ensure_login()
    assert email == load.DEMO_EMAIL and len(password) >= 12
    assert (tmp_path / "demo-login.txt").stat().st_mode & 0o777 == 0o600
    assert db.query(User).filter(User.email == email).one().role == UserRole.owner
    assert load.ensure_login() == (email, password)  # a second start prints the same login


def test_readme_first_steps_work_after_the_demo(app, db, tmp_path, monkeypatch):
    """README: after `--demo`, log in as the printed demo owner: creating a project works (it was a 403 for the
    viewer that registering after the demo made)."""
    monkeypatch.setattr(load, "login_file", lambda: tmp_path / "demo-login.txt")
    email, password = load.ensure_login()
    c = TestClient(app, headers=SAME_ORIGIN)  # a browser's Origin: cookie mutations need it
    assert c.post("/api/v1/auth/login", json={"email": email, "password": password}).status_code == 200
    r = c.post("/api/v1/projects", json={"name": "Shop app", "slug": "shop-app"})
    assert r.status_code == 201, r.text
    key = c.post("/api/v1/api-keys", json={"name": "dashboards", "scope": "read"}).json()["token"]
    assert c.get("/api/v1/projects", headers={"Authorization": f"Bearer {key}"}).status_code == 200
