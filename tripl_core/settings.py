"""Process settings: every knob is an environment variable `TRIPL_*` with a documented default.

These are the *boot* settings (where the database is, which port to bind). Values that owners may change at run
time through the settings API are layered on top of these in `tripl_core.service_settings`.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DESCRIBE_PROMPT = (
    "You document analytics tracking plans. Given an event or event type with its fields and, when available, "
    "values observed in the warehouse, write a concise description (1-3 sentences) of what it tracks and when it "
    "fires, and suggest missing fields. Answer only with JSON: {\"description\": str, \"field_suggestions\": "
    "[{\"name\": str, \"field_type\": str, \"description\": str}]}. Do not invent facts not in the context."
)
ASK_PROMPT = (
    "You answer questions about an analytics tracking plan. Use only the plan excerpts given; cite them by their "
    "[n] number. If the excerpts do not answer the question, say so plainly."
)
ALERT_PROMPT = (
    "You explain data-quality alerts about analytics events to product and data teams. In 2-4 sentences, say what "
    "changed, the likely cause and what to check first. Be factual; do not speculate beyond the data given."
)


def parse_address_rules(value: str) -> list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int | None]]:
    """`TRIPL_OUTBOUND_ALLOW`/`_DENY` entries: a CIDR or an address, optionally with one port —
    `10.0.0.0/8`, `127.0.0.1`, `127.0.0.1:8787`, `[::1]:8787`. Raises ValueError naming the bad entry."""
    rules = []
    for item in (i.strip() for i in value.split(",")):
        if not item:
            continue
        net, port = item, None
        if item.startswith("["):  # [v6 address or range]:port
            net, _, rest = item[1:].partition("]")
            port = rest.removeprefix(":") or None
        elif item.count(":") == 1:  # v4 address or range:port
            net, port = item.split(":")
        try:
            number = int(port) if port is not None else None
            if number is not None and not 0 < number < 65536:
                raise ValueError
            rules.append((ipaddress.ip_network(net, strict=False), number))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or CIDR range, optionally with a port "
                             "(e.g. 127.0.0.1/32, 10.0.0.0/8, 127.0.0.1:8787, [::1]:8787)") from None
    return rules


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIPL_", env_file=".env", extra="ignore")

    # storage
    data_dir: Path = Field(Path(".tripl"), description="Where embedded Postgres, secret key and uploads live.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the app database. Unset: an embedded PostgreSQL in data_dir."
    )
    dagster_database_url: str | None = Field(
        None, description="postgresql+psycopg2:// URL of Dagster's own database. Unset: derived from the server."
    )
    db_pool_size: int = Field(20, ge=1, description="Connections kept per API process.")
    db_max_overflow: int = Field(20, ge=0)

    # runtime
    host: str = "127.0.0.1"
    port: int = 8000
    api_workers: int = Field(
        default_factory=lambda: min(4, os.cpu_count() or 1), ge=1, le=64,
        description="uvicorn worker processes of `tripl up` (requests use every core). Default: min(4, CPUs).")
    forwarded_allow_ips: str | None = Field(
        None, description="Comma-separated proxy addresses whose X-Forwarded-For/-Proto the API trusts. "
        "Unset: none (the client address is the TCP peer), so the per-address login throttle cannot be dodged.")
    dagster_port: int = 3000
    webhook_sink_port: int = Field(
        8787, ge=1, le=65535,
        description="Port of `tripl webhook-sink` (127.0.0.1), the local receiver of the demo's alert webhook.")
    log_level: str = "info"
    environment: str = "development"

    # security
    secret_key: str | None = Field(
        None, description="Key for sessions and encryption of stored secrets. Unset: generated into data_dir."
    )
    session_ttl_hours: int = Field(24 * 14, ge=1)
    cookie_secure: bool = False
    cookie_name: str = "tripl_session"
    registration_open: bool = True
    login_max_failures: int = Field(5, ge=1, description="Failed logins per email (or 4x per IP) in the window.")
    login_failure_window_seconds: int = Field(900, ge=1)
    api_key_touch_seconds: int = Field(60, ge=0, description="Minimum gap between last_used_at writes.")
    outbound_allow: str = Field(
        "", description="CIDRs tripl may connect to although refused by default (loopback), comma-separated, "
        "e.g. 127.0.0.1/32. Link-local and metadata addresses stay refused (tripl_core.outbound).")
    outbound_deny: str = Field(
        "", description="CIDRs tripl never connects to (webhooks, channels, AI, warehouses), comma-separated.")

    # plan review
    viewer_comments_enabled: bool = Field(
        False, description="Whether viewers may comment on plan branches (they can always read them)."
    )

    # warehouses
    warehouse_timeout_seconds: int = Field(
        30, ge=1, le=3600, description="Query timeout of a data source whose timeout_seconds is not set."
    )
    warehouse_max_result_rows: int = Field(
        1_000_000, ge=1, description="Row cap of any warehouse result (ClickHouse max_result_rows, fetch cap)."
    )
    warehouse_maximum_bytes_billed: int = Field(
        10 * 1024**3, ge=1, description="BigQuery: bytes a query may bill; dry runs above it are refused."
    )
    preview_workers: int = Field(4, ge=1, le=64, description="Threads running scan previews in the API process.")
    scan_executor: str = Field(
        "dagster", pattern="^(dagster|inprocess)$",
        description="Who runs scan jobs: dagster (the queue sensor) or inprocess (an API worker thread, no Dagster)."
    )
    scan_first_day: str | None = Field(
        None, pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="First UTC day scans may cover (the first Dagster day partition). Unset: the first day of the "
                    "month twelve months ago.",
    )
    dagster_scan_runs: int = Field(
        1, ge=1, le=8,
        description="Scan (backfill) runs Dagster runs at a time under `tripl up` (dagster.yaml's tag limit; one more "
                    "run slot stays free for alert dispatch). `tripl up --demo` uses 2: one per core of a 2-CPU "
                    "machine while the demo replays, nothing else being scanned.",
    )
    scan_days_per_run: int = Field(
        7, ge=7, le=90,
        description="Days of one scan config per Dagster run of a backfill (BackfillPolicy.multi_run): fewer, longer "
                    "runs pay the run worker's start once for more days, but a run reads its days in one warehouse "
                    "statement, which must finish within the data source's timeout.",
    )

    # uploads
    photo_max_bytes: int = Field(10 * 1024 * 1024, ge=1)

    # run-time changeable through the settings API (tripl_core.service_settings layers overrides on these)
    public_base_url: str | None = Field(None, description="Public URL of this instance, for links in alerts.")
    slack_api_base_url: str = Field("https://slack.com/api/", description="Slack Web API base (tests: local).")
    telegram_api_base_url: str = Field("https://api.telegram.org", description="Telegram Bot API base.")
    linear_api_url: str = Field("https://api.linear.app/graphql", description="Linear GraphQL endpoint.")
    jira_api_version: int = Field(
        3, ge=2, le=3, description="Jira REST version: 3 (Cloud, ADF descriptions) or 2 (Server/Data Center)."
    )
    alert_delivery_timeout_seconds: int = Field(10, ge=1, le=300, description="HTTP/SMTP timeout per delivery.")
    alert_delivery_max_attempts: int = Field(5, ge=1, le=20, description="Attempts before a delivery fails.")
    alert_retry_base_seconds: int = Field(
        60, ge=1, le=86400, description="Backoff before the 2nd attempt of a failed delivery; doubles per attempt.")
    alert_retry_max_seconds: int = Field(3600, ge=1, le=86400, description="Longest backoff between attempts.")
    alert_dispatch_lookback_hours: int = Field(
        48, ge=1, le=2160, description="Findings newer than this (by their bucket) are matched against rules.")
    alert_correlation_window_minutes: int = Field(
        360, ge=1, le=43200, description="Inbox: items of one scope and direction this close form one group.")
    alert_false_positive_threshold: int = Field(
        2, ge=1, le=1000, description="False positives of a pattern before dispatch suppresses its lookalikes.")
    smtp_host: str | None = Field(None, description="SMTP server for email alerts. Unset: email disabled.")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = Field(None, description="Write-only through the API.")
    smtp_starttls: bool = Field(True, description="Upgrade the connection with STARTTLS.")
    smtp_ssl: bool = Field(False, description="Implicit TLS (port 465); excludes smtp_starttls.")
    smtp_from: str = Field("tripl@localhost", description="Sender address of email alerts.")
    smtp_timeout_seconds: int = Field(10, ge=1, le=300)
    ai_enabled: bool = Field(False, description="AI assistance (describe, ask, alert explanations).")
    ai_base_url: str = Field("https://api.openai.com/v1", description="Any OpenAI-compatible API base URL.")
    ai_model: str = Field("gpt-4o-mini", description="Chat-completions model name.")
    ai_api_key: str | None = Field(None, description="Bearer token for the AI endpoint. Write-only via API.")
    ai_timeout_seconds: int = Field(30, ge=1, le=600)
    ai_max_output_tokens: int = Field(800, ge=1, le=32000)
    describe_system_prompt: str = Field(DESCRIBE_PROMPT, min_length=1)
    ask_system_prompt: str = Field(ASK_PROMPT, min_length=1)
    alert_explanation_system_prompt: str = Field(ALERT_PROMPT, min_length=1)
    search_embeddings_enabled: bool = Field(False, description="Semantic search with pgvector embeddings.")
    search_embedding_provider: str = Field("openai", description="'openai': any OpenAI-compatible /embeddings.")
    search_embedding_model: str = Field("text-embedding-3-small")
    search_embedding_api_key: str | None = Field(None, description="Unset: ai_api_key is used.")
    search_embedding_base_url: str | None = Field(None, description="Unset: ai_base_url is used.")

    @field_validator("outbound_allow", "outbound_deny")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        """A typo must stop the start, not silently open or close the network."""
        parse_address_rules(value)
        return value

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def session_cookie_secure(self) -> bool:
        """`Secure` on the session cookie: when asked, and whenever tripl is served over HTTPS (a cookie sent over
        plain HTTP once would leak the session to anyone on the path)."""
        return self.cookie_secure or str(self.public_base_url or "").strip().lower().startswith("https://")

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once into the data directory."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key


@lru_cache
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    get_settings.cache_clear()
