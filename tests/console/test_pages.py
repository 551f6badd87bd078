"""The console over HTTP: every page alert links open renders for signed-in people, signed-out people are sent
to the login page and back, viewers read, editors act, and the actions change what the API reports."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient

from tests.conftest import SAME_ORIGIN
from tripl_core import links

P = "/api/v1/projects/shop-app"


def _no_redirect(client: TestClient, url: str, **kw):
    return client.get(url, follow_redirects=False, **kw)


def _volume_group(client: TestClient) -> dict:
    return next(g for g in client.get(f"{P}/alerts/inbox").json()["items"] if g["kind"] == "volume")


def test_root_leads_to_the_login_page_and_back(app, scene):
    anon = TestClient(app, headers=SAME_ORIGIN)
    r = _no_redirect(anon, "/")
    assert r.status_code == 307 and r.headers["location"] == "/ui/"
    r = _no_redirect(anon, scene.url("signal"))
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login?next=%2Fui%2Fprojects%2F")
    page = anon.get(r.headers["location"])
    assert page.status_code == 200 and 'name="password"' in page.text
    bad = anon.post("/ui/login", data={"email": "owner@example.com", "password": "wrong-password-1",
                                       "next": scene.url("signal")}, follow_redirects=False)
    assert bad.status_code == 401 and "error" in bad.text
    ok = anon.post("/ui/login", data={"email": "owner@example.com", "password": "correct-horse-1",
                                      "next": scene.url("signal")}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == scene.url("signal")
    cookie = ok.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "domain" not in cookie.lower()  # host-only: 127.0.0.1 or localhost
    assert anon.get("/api/v1/auth/me").json()["email"] == "owner@example.com"  # the API's own session


def test_login_never_redirects_off_site(app, scene):
    anon = TestClient(app, headers=SAME_ORIGIN)
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "/api/v1/auth/me"):
        r = anon.post("/ui/login", data={"email": "owner@example.com", "password": "correct-horse-1",
                                         "next": target}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/ui/", target


def test_every_linked_page_renders(owner, scene):
    base = ""
    pages = {
        links.console_home(base): "Shop App",
        links.project_page(base, "shop-app"): "plan coverage",
        links.finding_page(base, "shop-app", "signal", scene.ids["signal"]): "Volume spike on home",
        links.finding_page(base, "shop-app", "schema_drift", scene.ids["drift"]): "Type mismatch",
        links.finding_page(base, "shop-app", "distribution_drift", scene.ids["distribution_drift"]): "platform",
        links.finding_page(base, "shop-app", "release_regression", scene.ids["release"]): "2.4.0",
        links.finding_page(base, "shop-app", "shadow_event", scene.ids["shadow"]): "chekout_v2",
        links.finding_page(base, "shop-app", "dead_event", scene.ids["dead"]): "never seen",
        links.event_page(base, "shop-app", scene.ids["event"]): "Breakdowns",
        links.scan_job_page(base, "shop-app", scene.ids["job"]): "1 of 2 days scanned",
        links.inbox_page(base, "shop-app"): "Alert inbox",
    }
    for url, text in pages.items():
        r = owner.get(url)
        assert r.status_code == 200, (url, r.text[:500])
        assert text in r.text, url


def test_overview_figures(owner, scene):
    html = owner.get("/ui/projects/shop-app").text
    assert re.search(r'id="kpi-signals">1<', html)
    assert scene.url("signal") in html and scene.url("drift") in html and scene.url("job") in html


def test_event_chart_draws_band_and_anomaly(owner, scene):
    html = owner.get(scene.url("event")).text
    svg = re.search(r'<svg class="chart".*?</svg>', html, re.S).group(0)
    assert int(re.search(r'data-points="(\d+)"', svg).group(1)) >= 192 and 'data-anomalies="1"' in svg
    assert svg.count('class="band"') == 1 and svg.count('class="anomaly spike"') == 1
    assert "<polyline class=\"volume\"" in svg
    assert html.count('<svg class="spark"') == 2 and ">ios<" in html  # one sparkline per platform


def test_signal_page_explains_what_moved(owner, scene):
    html = owner.get(scene.url("signal")).text
    moved = html[html.index("What moved"):html.index("<h2>Act")]
    first = re.search(r"<td>platform</td><td>([^<]+)</td>", moved)
    assert first and first.group(1) == "ios"  # the value that carried the spike ranks first


def test_bad_ids_are_html_404s(owner, scene):
    for url in ("/ui/projects/shop-app/signals/not-a-uuid", f"/ui/projects/shop-app/drifts/{uuid.uuid4()}",
                "/ui/projects/nope", f"/ui/projects/shop-app/events/{uuid.uuid4()}"):
        r = owner.get(url)
        assert r.status_code == 404 and "text/html" in r.headers["content-type"], url


def test_viewer_reads_but_cannot_act(viewer, scene):
    html = viewer.get(scene.url("signal")).text
    assert "Mark false positive" not in html and "read-only" in html
    group = _volume_group(viewer)
    r = viewer.post(f"/ui/projects/shop-app/inbox/{group['correlation_group_id']}/action",
                    data={"action": "false_positive"})
    assert r.status_code == 403
    assert _volume_group(viewer)["status"] == "open"
    r = viewer.post(f"{scene.url('drift')}/action", data={"action": "accept"})
    assert r.status_code == 403


def test_editor_marks_the_signal_false_positive(editor, scene):
    html = editor.get(scene.url("signal")).text
    m = re.search(r'action="(/ui/projects/shop-app/inbox/[0-9a-f-]+/action)"', html)
    r = editor.post(m.group(1), data={"action": "false_positive", "back": scene.url("signal")},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == scene.url("signal")
    group = _volume_group(editor)
    assert group["status"] == "false_positive" and group["false_positive_count"] == 1
    html = editor.get(scene.url("signal")).text  # what is left to do: reopen it
    assert "Mark false positive" not in html and ">Reopen</button>" in html


def test_editor_acts_on_drift_shadow_and_dead_event(editor, scene):
    assert editor.post(f"{scene.url('drift')}/action", data={"action": "snooze"}).status_code == 200
    drifts = editor.get(f"{P}/event-types/{scene.event_type['id']}/drifts").json()["items"]
    assert drifts[0]["status"] == "snoozed"
    r = editor.post(f"{scene.url('shadow')}/dismiss")
    assert r.status_code == 200 and 'id="shadow-status">dismissed' in r.text
    r = editor.post(f"{scene.url('dead')}/archive", data={"status": "deprecated"})
    assert r.status_code == 200
    assert editor.get(f"{P}/events/{scene.ids['dead']}").json()["status"] == "deprecated"
    r = editor.post(f"{scene.url('drift')}/action", data={"action": "explode"})
    assert r.status_code == 422 and "action must be one of" in r.text


def test_console_is_not_in_the_openapi_schema(owner):
    paths = owner.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/ui") or p == "/"]


def test_event_breakdowns_fall_back_to_a_column_with_data(owner, scene, db):
    """The plan names a breakdown column the scans stored nothing under (the demo: `platform` in the plan,
    `properties.platform` in the warehouse): the page shows a column that has rows instead of an empty table."""
    from tripl_core.db.models.plan import Event

    event = db.get(Event, scene.ids["event"])
    event.metric_breakdown_columns = ["country"]
    db.commit()
    html = owner.get(scene.url("event")).text
    assert "Breakdowns by platform" in html and html.count('<svg class="spark"') == 2
    assert "Breakdowns by country" in owner.get(scene.url("event") + "?column=country").text


def test_warehouse_strings_are_escaped(owner, scene, db):
    """Names come from the warehouse (hostile until parsed): a shadow event named like markup stays text."""
    from tripl_core.db.models.findings import ShadowEventCandidate

    c = db.get(ShadowEventCandidate, scene.ids["shadow"])
    c.name = '<script>alert("x")</script>'
    c.sample_fields = {"<img src=x onerror=alert(1)>": "<b>bold</b>"}
    db.commit()
    for url in (scene.url("shadow"), "/ui/projects/shop-app"):
        html = owner.get(url).text
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>bold</b>" not in html
        assert "&lt;script&gt;alert" in html


def test_no_inline_script_or_style(owner, scene):
    """The pages must work under a strict Content-Security-Policy (no 'unsafe-inline')."""
    for kind in ("signal", "drift", "distribution_drift", "release", "shadow", "dead", "job", "event"):
        html = owner.get(scene.url(kind)).text
        assert "<script" not in html and " style=" not in html and "<style" not in html, kind
