"""One redaction step for every text that comes back from somewhere tripl calls out to.

Error strings and response excerpts of alert channels, warehouse drivers and the AI endpoint are stored (delivery
`error_message`, scan job errors) and shown to every project member, and they land in the log. Remote servers echo
what they were sent — `Cannot POST /services/T000/B000/XXXX`, a bot token inside a URL, a key in a JSON error — so
each such text passes through a `Redactor` built from the destination's own secrets before it is kept:

- secrets in full, and the forms a server may echo: URL-encoded (once or twice, any hex case), `+` for spaces,
  JSON-escaped slashes, HTTP basic-auth and SMTP AUTH PLAIN base64;
- of a secret URL (a Slack incoming webhook, a generic webhook target): the userinfo, the whole path and query,
  each path segment and query value on its own and the path's leading and trailing runs of segments (a server
  may echo only a part);
- the tail of a text cut off inside a secret (an excerpt truncated at its limit keeps no prefix of it).

Logs get the same treatment: while a `scope(redactor)` is active, every log record made in it is redacted, and
records of the HTTP libraries (httpx, urllib3, slack-sdk), which print request URLs, have URL paths and queries
removed wherever they are made.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import parse_qsl, quote, quote_plus, unquote, urlsplit

REDACTED = "***"
MIN_SECRET_CHARS = 3  # shorter values are not secrets worth mangling every text for
_BOUNDED_BELOW = 8  # forms shorter than this are replaced only as whole words (not inside other words)
_TAIL_MIN = 4  # a text ending in at least this many leading characters of a secret loses them
MAX_SEGMENTS = 64  # path segments (and query values) of a secret URL considered one by one
# Path segments every service shares; replacing them everywhere would only make errors unreadable.
PUBLIC_SEGMENTS = frozenset({"services", "hooks", "hook", "api", "apis", "webhook", "webhooks", "rest", "v1", "v2",
                             "v3", "v4", "issue", "graphql", "sendmessage", "chat.postmessage", "incoming"})
# Loggers of HTTP libraries that print request URLs (and slack-sdk: bodies) at INFO/DEBUG.
HTTP_LOGGERS = ("httpx", "httpcore", "urllib3", "slack_sdk", "google.auth", "google.api_core", "clickhouse_connect")


def _encodings(value: str) -> set[str]:
    """The forms a server may echo a value in."""
    once = quote(value, safe="")
    return {value, once, quote(value, safe="/"), quote_plus(value), quote_plus(value, safe="/"), quote(once, safe=""),
            value.replace("/", "\\/"), unquote(value)}


def url_parts(url: str | None, *, whole: bool = True) -> list[str]:
    """The secret parts of a URL. `whole`: the path and query are the secret (incoming webhooks); otherwise only
    userinfo and query values are (a base URL such as an AI endpoint or a Jira site)."""
    if not url:
        return []
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return [url]
    out: list[str] = []
    if parts.password:
        out += [parts.password, f"{parts.username}:{parts.password}"]
    if parts.username:
        out.append(parts.username)
    out += [value for _, value in parse_qsl(parts.query, keep_blank_values=False)[:MAX_SEGMENTS]]
    if parts.query:
        out.append(parts.query)
    if whole:
        path = parts.path.rstrip("/")
        if path:
            out.append(path + (f"?{parts.query}" if parts.query else ""))
            out.append(path)
            segments = [s for s in path.split("/") if s][:MAX_SEGMENTS]
            out += [s for s in segments if s.lower() not in PUBLIC_SEGMENTS]
            # partial echoes of the path: its leading and trailing runs of two or more segments (linear in the
            # number of segments: a hostile URL with hundreds of them must not cost quadratic forms)
            n = len(segments)
            out += ["/".join(segments[:j]) for j in range(2, n)] + ["/".join(segments[i:]) for i in range(1, n - 1)]
        if parts.fragment:
            out.append(parts.fragment)
    return out


def basic_auth(user: str | None, password: str | None) -> list[str]:
    """What an HTTP basic-auth header or an SMTP AUTH PLAIN/LOGIN exchange carries, as a server may echo it."""
    if not password:
        return []
    user = user or ""
    raw = [f"{user}:{password}", f"\0{user}\0{password}", password]
    return raw + [base64.b64encode(r.encode()).decode() for r in raw]


class Redactor:
    """Replaces a fixed set of secrets (and their echoed forms) in texts; cheap to call many times."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret is None:
                continue
            secret = str(secret).strip()
            if len(secret) >= MIN_SECRET_CHARS:
                forms |= {f for f in _encodings(secret) if len(f) >= MIN_SECRET_CHARS}
        self.forms = sorted(forms, key=lambda f: (-len(f), f))
        long = [re.escape(f) for f in self.forms if len(f) >= _BOUNDED_BELOW]
        short = [re.escape(f) for f in self.forms if len(f) < _BOUNDED_BELOW]
        alternatives = []
        if long:
            alternatives.append(f"(?:{'|'.join(long)})")
        if short:
            alternatives.append(f"(?<![A-Za-z0-9])(?:{'|'.join(short)})(?![A-Za-z0-9])")
        self._pattern = re.compile("|".join(alternatives), re.IGNORECASE) if alternatives else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str | None) -> str | None:
        if text is None or self._pattern is None:
            return text
        # the tail first: a longer form cut off at the end must go whole, before shorter forms split it up
        return self._pattern.sub(REDACTED, self._cut_tail(text))

    def _cut_tail(self, text: str) -> str:
        """A text truncated (marked `…`) inside a secret ends with its first characters: drop them too."""
        if not text.rstrip().endswith("…"):
            return text
        body = text.rstrip().removesuffix("…").rstrip(". \n'\"")
        end = text[len(body):]
        for form in self.forms:
            for k in range(min(len(form) - 1, len(body)), _TAIL_MIN - 1, -1):
                if body.endswith(form[:k]):
                    return body[: len(body) - k] + REDACTED + end
        return text


def redact(text: str | None, secrets: Iterable[str | None]) -> str | None:
    """`text` without any of `secrets` (in any echoed form): the one-off form of `Redactor(secrets)(text)`."""
    return Redactor(secrets)(text)


_URL = re.compile(r"(?P<origin>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s?#\"'<>]+)(?P<rest>[/?#][^\s\"'<>]*)")


def strip_url_paths(text: str) -> str:
    """Every URL in `text` reduced to its origin (`https://hooks.slack.com/***`): for texts whose secrets are not
    known, such as an HTTP library's own log lines. Userinfo is dropped too."""
    def origin(m: re.Match[str]) -> str:
        scheme, _, host = m.group("origin").partition("://")
        return f"{scheme}://{host.rpartition('@')[2]}/{REDACTED}"

    return _URL.sub(origin, text)


# --- logs -----------------------------------------------------------------------------------------------------
_current: contextvars.ContextVar[Redactor | None] = contextvars.ContextVar("tripl_redactor", default=None)


def current() -> Redactor | None:
    """The redactor of the enclosing `scope`, if any: lets code deep in a sender redact before it truncates."""
    return _current.get()


def clip(text: str, limit: int) -> str:
    """At most `limit` characters (then `…`), redacted by the enclosing scope's redactor *before* the cut, so no
    prefix of a secret is left at the end."""
    redactor = _current.get()
    if redactor is not None:
        text = redactor(text) or ""
    return text if len(text) <= limit else text[:limit] + "…"


@contextlib.contextmanager
def scope(redactor: Redactor) -> Iterator[Redactor]:
    """Redact every log record made inside the block (this thread/task) with `redactor`."""
    token = _current.set(redactor if redactor else None)
    try:
        yield redactor
    finally:
        _current.reset(token)


def _is_http_logger(name: str) -> bool:
    return any(name == n or name.startswith(n + ".") for n in HTTP_LOGGERS)


RecordFactory = Callable[..., logging.LogRecord]


def _redacting_factory(previous: RecordFactory) -> RecordFactory:
    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redactor = _current.get()
        http = _is_http_logger(record.name or "")  # logging.makeLogRecord (Dagster) builds nameless records first
        if redactor is None and not http:
            return record
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 — a bad format string is logging's own error to report
            return record
        if redactor is not None:
            message = redactor(message) or ""
        if http:
            message = strip_url_paths(message)
        record.msg, record.args = message, None
        if record.exc_info and redactor is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redactor(text)
            if http:
                record.exc_text = strip_url_paths(record.exc_text or "")
            record.exc_info = None
        return record

    factory.tripl_redacting = True  # type: ignore[attr-defined]
    return factory


def install_log_redaction() -> None:
    """Wrap the log record factory once per process (idempotent; keeps any factory installed before)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "tripl_redacting", False):
        logging.setLogRecordFactory(_redacting_factory(current))


install_log_redaction()
