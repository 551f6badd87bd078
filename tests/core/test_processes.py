"""The supervisor of `tripl up` and the command line it gives uvicorn, with real short-lived processes."""

from __future__ import annotations

import io
import os
import signal
import sys
import time

from tripl_core.processes import Supervisor, install_stop_handlers, restore_handlers


def test_a_child_that_dies_is_restarted_with_growing_backoff_and_one_shot_jobs_are_not(tmp_path):
    log = io.StringIO()
    sup = Supervisor(dict(os.environ), backoff=0.2, max_backoff=0.4, grace=2, log=log)
    crash = sup.add("crasher", [sys.executable, "-c", "raise SystemExit(3)"])
    job = sup.add("job", [sys.executable, "-c", "pass"], restart=False)
    deadline = time.monotonic() + 30
    while crash.restarts < 3 and time.monotonic() < deadline:
        sup.poll()
        time.sleep(0.05)
    sup.stop()
    text = log.getvalue()
    assert crash.restarts >= 3, text
    assert text.count("tripl up: crasher restarted") >= 3
    assert job.done and "tripl up: job finished" in text and job.restarts == 0
    assert "crasher (pid" in text and "exited with code 3" in text


def test_backoff_doubles_up_to_the_cap():
    sup = Supervisor({}, backoff=1, max_backoff=30, stable_after=60, log=io.StringIO())
    child = sup.add("x", [sys.executable, "-c", "raise SystemExit(1)"])
    child.proc.wait()
    seen = []
    for _ in range(7):
        child.started_at = time.monotonic()
        sup.poll()  # notices the exit, schedules the restart
        seen.append(round(child.restart_at - time.monotonic()))
        child.restart_at = None  # pretend it restarted and died at once again
        child.proc = sup.children[0].proc
    sup.stop()
    assert seen == [1, 2, 4, 8, 16, 30, 30]


def test_stop_ends_the_whole_group_even_when_a_member_ignores_sigterm():
    sup = Supervisor(dict(os.environ), grace=1, log=io.StringIO())
    # A leader that ignores SIGTERM and a grandchild of the same group: both end (SIGKILL after the grace period).
    code = ("import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); time.sleep(60)")
    child = sup.add("stubborn", [sys.executable, "-c", code])
    time.sleep(0.5)
    started = time.monotonic()
    sup.stop()
    assert time.monotonic() - started < 5
    assert child.proc.poll() is not None
    time.sleep(0.2)
    try:
        os.killpg(child.proc.pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive, "a member of the stopped group is still running"


def test_handlers_replace_an_inherited_ignore_and_are_restored():
    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        previous = install_stop_handlers()
        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_IGN, signal.SIG_DFL)
        restore_handlers(previous)
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, before)


def test_uvicorn_trusts_forwarded_headers_only_from_declared_proxies(monkeypatch):
    from tripl_core.cli import _uvicorn_cmd
    from tripl_core.settings import Settings

    cmd = _uvicorn_cmd(Settings())
    assert "--no-proxy-headers" in cmd and "--forwarded-allow-ips" not in cmd
    cmd = _uvicorn_cmd(Settings(forwarded_allow_ips="10.0.0.5"))
    assert cmd[cmd.index("--forwarded-allow-ips") + 1] == "10.0.0.5" and "--proxy-headers" in cmd


def test_a_chatty_child_writes_to_its_log_file_and_keeps_it_across_restarts(tmp_path):
    """Dagster's daemon logs every sensor tick: `tripl up` sends it to DATA_DIR/logs, not the console."""
    log_file = tmp_path / "logs" / "chatty.log"
    sup = Supervisor(dict(os.environ), backoff=0.1, max_backoff=0.1, grace=2, log=io.StringIO())
    code = "import sys; print('tick', flush=True); print('warn', file=sys.stderr, flush=True); raise SystemExit(1)"
    child = sup.add("chatty", [sys.executable, "-c", code], log_path=log_file)
    deadline = time.monotonic() + 30
    while child.restarts < 1 and time.monotonic() < deadline:
        sup.poll()
        time.sleep(0.05)
    child.proc.wait(10)
    sup.stop()
    text = log_file.read_text()
    assert text.count("tick") >= 2 and text.count("warn") >= 2, text  # appended, both streams
