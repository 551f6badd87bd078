"""The demo's alerting: a webhook destination and one rule (made once), and the local `tripl webhook-sink`."""

from __future__ import annotations

import json

import httpx
from sqlalchemy import func, select

from tripl_core.db.models.alerting import AlertDestination, AlertRule
from tripl_core.demo import load, sink
from tripl_core.demo.plan import create_demo_project

P = "/api/v1/projects/demo"


def test_demo_alert_destination_and_rule_are_made_once(db, owner):
    actor, _ = load.demo_actor(db)
    project = create_demo_project(db, actor)
    dest, rule = load.ensure_alerts(db, actor, project)
    assert dest.type.value == "webhook" and load.alert_destinations.secret(dest, "target_url") == sink.sink_url()
    for key, value in load.ALERT_RULE_BODY.items():
        assert getattr(rule, key) == value, key
    again, rule2 = load.ensure_alerts(db, actor, project, "http://127.0.0.1:9/elsewhere")  # --alerts-url
    assert (again.id, rule2.id) == (dest.id, rule.id)
    assert load.alert_destinations.secret(again, "target_url") == "http://127.0.0.1:9/elsewhere"
    assert db.scalar(select(func.count()).select_from(AlertDestination)) == 1
    assert db.scalar(select(func.count()).select_from(AlertRule)) == 1
    r = owner.get(f"{P}/alerts/destinations")
    assert r.status_code == 200, r.text
    [d] = r.json() if isinstance(r.json(), list) else r.json()["items"]
    assert d["name"] == load.ALERT_DESTINATION_NAME and [x["name"] for x in d["rules"]] == [load.ALERT_RULE_NAME]


def test_demo_refuses_a_bad_alerts_url(db, capsys):
    assert load.main(["--alerts-url", "ftp://example.com/x"]) == 2
    assert "--alerts-url" in capsys.readouterr().err


def test_sink_appends_each_body_and_lists_them(sink_server, capsys):
    url, path = sink_server
    body = {"schema": "tripl.alert.v1", "delivery_id": "d-1", "subject": "tripl: 2 findings",
            "rule": {"name": "Demo"}, "items": [{"kind": "volume"}, {"kind": "schema_drift"}]}
    r = httpx.post(url, json=body, headers={"Idempotency-Key": "d-1"})
    assert r.status_code == 200 and r.json() == {"ok": True}
    assert httpx.post(url, content=b"not json").status_code == 400
    assert httpx.post(url, json={"second": True}).status_code == 200
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["body"] for x in lines] == [body, {"second": True}]
    assert lines[0]["idempotency_key"] == "d-1"
    listed = httpx.get(url).json()
    assert listed["count"] == 2 and listed["last"][0]["body"] == body
    out = capsys.readouterr().out
    assert "webhook-sink: alert d-1 rule='Demo': tripl: 2 findings [1 schema_drift, 1 volume]" in out


def test_tripl_webhook_sink_command(tmp_path):
    """`tripl webhook-sink` (what `tripl up --demo` starts) receives on 127.0.0.1 and stops on SIGTERM."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, TRIPL_DATA_DIR=str(tmp_path), TRIPL_WEBHOOK_SINK_PORT=str(port))
    # Started by a parent that ignores SIGTERM (some CI runners do): the ignore is inherited through exec,
    # so the sink must install its own handler to stop on SIGTERM.
    proc = subprocess.Popen([sys.executable, "-m", "tripl_core.cli", "webhook-sink"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    url = f"http://127.0.0.1:{port}{sink.SINK_PATH}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                r = httpx.post(url, json={"subject": "hello", "items": []}, timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the sink did not start"
                time.sleep(0.2)
        assert r.status_code == 200
        [line] = (tmp_path / sink.SINK_FILE).read_text().splitlines()
        assert json.loads(line)["body"]["subject"] == "hello"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    assert f"webhook sink on {url}" in out and "webhook-sink: alert - rule=None: hello [no items]" in out
