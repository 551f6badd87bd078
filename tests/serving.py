"""Helpers for tests that start tripl's real processes (uvicorn, `tripl up`): a free port and "ready" on /readyz."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable

import httpx


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_ready(proc: subprocess.Popen, base: str, timeout: float, output: Callable[[], str],
               what: str = "the API", interval: float = 0.2) -> None:
    """Until `base`/readyz answers 200; fails with the process's last output if it exits, or after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, output()[-2000:]
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{what} did not become ready"
        time.sleep(interval)
