"""Processes that stop when asked and come back when they die.

Every long-running tripl process calls `install_stop_handlers()` first: a parent that ignores SIGTERM (some CI
runners and service managers do) passes the ignored disposition on through fork and exec, and a process that
installs no handler of its own then cannot be stopped. `Supervisor` is what `tripl up` runs: each child leads its
own process group (so stopping it stops everything it started), a child that dies is restarted with exponential
backoff (logged), and `stop()` ends every group — SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO


class StopRequested(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM or SIGINT (a KeyboardInterrupt, so `except Exception` never eats it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stop(signum: int, _frame: object) -> None:
    raise StopRequested(signum)


def install_stop_handlers(handler: Callable[[int, object], None] | None = None) -> dict[int, object]:
    """SIGTERM and SIGINT stop this process, whatever disposition it inherited; returns the previous handlers.

    Default: raise `StopRequested` in the main thread (servers unwind through their `finally`). A handler that
    runs Python code is reset to the default by exec, so the children of this process do not inherit an ignore.
    Outside the main thread (signals cannot be handled there) nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, handler or _raise_stop) for signum in (signal.SIGTERM, signal.SIGINT)}


def restore_handlers(previous: dict[int, object]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)  # type: ignore[arg-type]


def spawn(cmd: list[str], env: dict[str, str] | None = None, log_path: Path | None = None) -> subprocess.Popen:
    """Start `cmd` as the leader of a new session and process group.

    Call `install_stop_handlers()` first: a caught signal is reset to its default by exec, an ignored one is not,
    so the children of a process with handlers do not inherit an ignored SIGTERM. With `log_path`, the child's
    stdout and stderr are appended to that file instead of the console (Dagster logs every sensor tick at INFO).
    """
    if log_path is None:
        return subprocess.Popen(cmd, env=env, start_new_session=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:  # the child keeps its own descriptor
        return subprocess.Popen(cmd, env=env, start_new_session=True, stdout=out, stderr=subprocess.STDOUT)


def stop_groups(procs: list[subprocess.Popen], grace: float = 10.0) -> None:
    """SIGTERM each child's process group, wait up to `grace` seconds for every member to exit, then SIGKILL the
    rest. Members are waited for, not only the leader: a leader killed by SIGKILL leaves its children running,
    and they would keep the port a replacement needs."""
    live = [p for p in procs if _signal_group(p.pid, signal.SIGTERM)]
    live = _wait_groups(live, grace)
    for proc in live:
        _signal_group(proc.pid, signal.SIGKILL)
    _wait_groups(live, 5.0)


def _wait_groups(procs: list[subprocess.Popen], timeout: float) -> list[subprocess.Popen]:
    """The groups still alive after `timeout`; leaders are reaped on the way (a zombie still counts as a member)."""
    deadline = time.monotonic() + timeout
    while True:
        for proc in procs:
            proc.poll()
        procs = [p for p in procs if _signal_group(p.pid, 0)]
        if not procs or time.monotonic() >= deadline:
            return procs
        time.sleep(0.05)


def _signal_group(pgid: int, signum: int) -> bool:
    try:
        os.killpg(pgid, signum)
        return True
    except (ProcessLookupError, PermissionError):
        return False


@dataclass
class Child:
    """One supervised command. `restart=False` marks a one-shot job (it may finish; it is not started again)."""

    name: str
    cmd: list[str]
    restart: bool = True
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    restarts: int = 0
    quick_failures: int = 0
    restart_at: float | None = None
    done: bool = False
    log_path: Path | None = None


@dataclass
class Supervisor:
    """Keeps `tripl up`'s children running until `stop()`.

    Backoff: `backoff * 2**n` seconds (at most `max_backoff`) after the n-th consecutive death within `stable_after`
    seconds of its start; a child that ran longer than that is restarted after `backoff` again.
    """

    env: dict[str, str]
    backoff: float = 1.0
    max_backoff: float = 30.0
    stable_after: float = 60.0
    grace: float = 10.0
    log: TextIO = field(default_factory=lambda: sys.stderr)
    children: list[Child] = field(default_factory=list)

    def add(self, name: str, cmd: list[str], restart: bool = True, log_path: Path | None = None) -> Child:
        child = Child(name, cmd, restart, log_path=log_path)
        self.children.append(child)
        self._start(child)
        return child

    def _start(self, child: Child) -> None:
        child.proc = spawn(child.cmd, self.env, child.log_path)
        child.started_at = time.monotonic()
        child.restart_at = None

    def _say(self, message: str) -> None:
        print(f"tripl up: {message}", file=self.log, flush=True)

    def poll(self) -> None:
        """One round: notice children that exited, schedule their restart, start those that are due."""
        now = time.monotonic()
        for child in self.children:
            if child.done or child.proc is None:
                continue
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.restarts += 1
                    self._start(child)
                    self._say(f"{child.name} restarted (pid {child.proc.pid}, restart {child.restarts})")
                continue
            code = child.proc.poll()
            if code is None:
                continue
            ran = now - child.started_at
            # Whatever it started is stopped with it (a SIGKILLed uvicorn leaves workers holding the port).
            stop_groups([child.proc], grace=min(self.grace, 5.0))
            if not child.restart:
                child.done = True
                self._say(f"{child.name} finished" if code == 0 else f"{child.name} exited with code {code}")
                continue
            child.quick_failures = child.quick_failures + 1 if ran < self.stable_after else 1
            delay = min(self.max_backoff, self.backoff * 2 ** (child.quick_failures - 1))
            child.restart_at = now + delay
            self._say(f"{child.name} (pid {child.proc.pid}) exited with {_describe(code)} after {ran:.0f}s; "
                      f"restarting in {delay:.0f}s")

    def run(self, should_stop: Callable[[], bool], interval: float = 0.5) -> None:
        while not should_stop():
            self.poll()
            time.sleep(interval)

    def stop(self) -> None:
        stop_groups([c.proc for c in self.children if c.proc is not None], grace=self.grace)


def _describe(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
    return f"code {code}"
