"""What `tripl up` prints first: the addresses to open, on one host, and with --demo the login to use.

One host throughout (`links.base_url`: TRIPL_PUBLIC_BASE_URL, else the bind address with a wildcard shown as
127.0.0.1): the session cookie is per host, so URLs that mix 127.0.0.1 and localhost look like a lost login.
"""

from __future__ import annotations

from typing import Any

from tripl_core import links


def host_of(base: str) -> str:
    return base.split("://", 1)[-1].rsplit(":", 1)[0]


def banner(settings: Any, dagster: bool, login: tuple[str, str] | None = None) -> list[str]:
    base = links.base_url(settings)
    lines = [f"tripl console  {links.console_home(base)}",
             f"tripl API docs {base}/docs"]
    if dagster:
        lines.append(f"Dagster UI     http://{host_of(base)}:{settings.dagster_port}")
    if login is not None:
        email, password = login
        lines.append(f"demo login     {email} / {password}  (owner of the demo project)" if password
                     else f"demo login     {email} (the instance's first owner; your own password)")
        lines.append(f"demo alerts    webhook sink on 127.0.0.1:{settings.webhook_sink_port} "
                     f"({settings.data_dir / 'demo-alerts.jsonl'})")
    return lines
