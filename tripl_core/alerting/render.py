"""Rendering alert templates in Jinja2's immutable sandbox, with the message format's escaping on every value.

Templates are written by editors but interpolate warehouse data, so two guards apply: the sandbox (no `_`
attributes, no `__globals__`, no mutation of context data, bounded `range`, `*`/`**` and output size) and a
`finalize` hook that escapes every `{{ … }}` value for the format, the way autoescape does for HTML. The items list
is rendered first (one `items_template` per item) and reaches `message_template` as the pre-escaped `items_text`.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError, Undefined
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from tripl_core.alerting.context import sample_context
from tripl_core.alerting.escaping import escape, to_plain
from tripl_core.alerting.markup import markup_problem
from tripl_core.alerting.message import MessageFormat, RenderedMessage
from tripl_core.errors import Invalid

MAX_TEMPLATE_CHARS = 10_000
MAX_OUTPUT_CHARS = 100_000
MAX_ITEMS = 50  # items listed in one message; the rest are summarised as "… and N more"
MAX_LOOP_ITERATIONS = 10_000
MAX_SEQUENCE_PRODUCT = 10_000
SUBJECT_LIMIT = 255

# Characters a channel accepts per message (after which it rejects or truncates).
CHANNEL_TEXT_LIMITS = {
    "slack": 40_000,  # chat.postMessage `text`; each section block is further cut at 3000
    "telegram": 4096,  # per message; longer messages are split into several
    "webhook": MAX_OUTPUT_CHARS,
    "email": MAX_OUTPUT_CHARS,
    "jira": 32_767,  # description field
    "linear": 100_000,
}


class Safe(str):
    """Text already escaped for the format (rendered items): `finalize` passes it through unchanged."""


_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("alert_template_budget")


def _spend(n: int) -> None:
    budget = _budget.get(None)
    if budget is None:
        return
    budget[0] -= n
    if budget[0] < 0:
        raise SecurityError(f"template loops more than {MAX_LOOP_ITERATIONS} times")


def _bounded_range(*args: int) -> range:
    r = range(*args)
    _spend(len(r))
    return r


class _CountedList(list):
    """The context's `items`: iterating spends the loop budget, so nested loops over many items stay bounded."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        for value in super().__iter__():
            _spend(1)
            yield value


class AlertSandbox(ImmutableSandboxedEnvironment):
    """The sandbox plus bounds on `range`, sequence repetition and powers, so a template cannot exhaust memory."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > 100:
                raise SecurityError("exponent too large in template")
            return left**right
        for seq, times in ((left, right), (right, left)):
            if (isinstance(seq, str | list | tuple) and isinstance(times, int)
                    and len(seq) * times > MAX_SEQUENCE_PRODUCT):
                raise SecurityError("repetition too large in template")
        return left * right


def _number(value: Any, decimals: int = 0) -> str:
    """`1234567.8|number` → `1,234,568`; None → empty."""
    if value is None or isinstance(value, Undefined):
        return ""
    try:
        return f"{float(value):,.{int(decimals)}f}"
    except (TypeError, ValueError):
        return str(value)


def _percent(value: Any, decimals: int = 1) -> str:
    """Signed percentage: `-75.0|percent` → `-75.0%`."""
    if value is None or isinstance(value, Undefined):
        return ""
    try:
        return f"{float(value):+.{int(decimals)}f}%"
    except (TypeError, ValueError):
        return str(value)


def _datetime(value: Any, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    """Format an ISO timestamp from the context (all in UTC)."""
    if value is None or isinstance(value, Undefined):
        return ""
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC).strftime(fmt)


def _finalizer(fmt: MessageFormat) -> Callable[[Any], str]:
    def finalize(value: Any) -> str:
        if isinstance(value, Undefined):
            return str(value)  # "" at send time; StrictUndefined raises at validation (also for sandbox refusals)
        if value is None:
            return ""
        if isinstance(value, Safe):
            return value
        if isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, float):
            text = str(int(value)) if value.is_integer() else f"{value:.2f}".rstrip("0").rstrip(".")
        else:
            text = str(value)
        return escape(text, fmt)

    return finalize


class _LenientUndefined(Undefined):
    """At send time a missing value prints as nothing (an alert with a blank beats no alert)."""


@lru_cache(maxsize=16)
def environment(fmt: MessageFormat, strict: bool = False) -> AlertSandbox:
    """One sandbox per format (strict at validation: unknown names are errors)."""
    env = AlertSandbox(
        undefined=StrictUndefined if strict else _LenientUndefined,
        finalize=_finalizer(fmt),
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.globals.pop("lipsum", None)
    env.globals["range"] = _bounded_range
    env.filters.update(number=_number, percent=_percent, datetime=_datetime)
    return env


@lru_cache(maxsize=256)
def _compile(source: str, fmt: MessageFormat, strict: bool) -> Template:
    """Compiled once per (template, format): the dispatcher renders the same rule for many items and runs."""
    return environment(fmt, strict).from_string(source)


def _render(source: str, fmt: MessageFormat, context: Mapping[str, Any], strict: bool = False) -> str:
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateError(f"template longer than {MAX_TEMPLATE_CHARS} characters")
    template = _compile(source, fmt, strict)
    token = _budget.set([MAX_LOOP_ITERATIONS])
    try:
        out: list[str] = []
        size = 0
        scope = dict(context)
        if isinstance(scope.get("items"), list):
            scope["items"] = _CountedList(scope["items"])
        for piece in template.generate(scope):
            size += len(piece)
            if size > MAX_OUTPUT_CHARS:
                raise SecurityError(f"template output longer than {MAX_OUTPUT_CHARS} characters")
            out.append(piece)
        return "".join(out)
    finally:
        _budget.reset(token)


# Default templates per format. Each item: the arrow (volume only), the finding's one-line summary (what, where,
# how much against what was expected), the other scopes of the same incident, and the link to its page. Items
# built without a summary (custom integrations) fall back to the numbers.
def _item_template(bold: tuple[str, str], italic: tuple[str, str], link: str, also: str, lparen: str = "(",
                   rparen: str = ")", eq: str = "=") -> str:
    b0, b1 = bold
    i0, i1 = italic
    kind = "{% if item.kind != 'volume' %}" + i0 + "{{ item.kind|replace('_', ' ') }}" + i1 + ": {% endif %}"
    numbers = (
        "{{ item.actual|number }} vs expected {{ item.expected|number }}"
        "{% if item.delta_percent is not none %} " + lparen + "{{ item.delta_percent|percent }}" + rparen
        + "{% endif %}{% if item.z is not none %}, z" + eq + "{{ item.z }}{% endif %}"
        "{% if item.bucket_label %} at {{ item.bucket_label }}{% endif %}"
    )
    return (
        "{{ item.arrow }} " + kind
        + "{% if item.summary %}{{ item.summary }}"
        + "{% else %}" + b0 + "{{ item.scope_label }}" + b1 + ": " + numbers + "{% endif %}"
        + "{% if item.link %} " + link + "{% endif %}"
        # trim_blocks eats the first line break after a block tag: two give one
        + "{% for r in item.related %}\n\n    " + also + "{{ r.summary or r.scope_name }}"
        + "{% if r.link %} " + link.replace("item.link", "r.link") + "{% endif %}{% endfor %}"
        + "{% if item.related_more %}\n\n    " + also + "{{ item.related_more }} more{% endif %}"
    )


_DEFAULT_ITEMS = {
    MessageFormat.plain: _item_template(("", ""), ("", ""), "{{ item.link }}", "also: "),
    MessageFormat.slack_mrkdwn: _item_template(("*", "*"), ("_", "_"), "<{{ item.link }}|details>", "also: "),
    MessageFormat.telegram_html: _item_template(("<b>", "</b>"), ("<i>", "</i>"),
                                                '<a href="{{ item.link }}">details</a>', "also: "),
    MessageFormat.telegram_markdownv2: _item_template(("*", "*"), ("_", "_"), "[details]({{ item.link }})",
                                                      "also: ", "\\(", "\\)", "\\="),
}

_HEADLINE = ("{% if status == 'resolved' %}Resolved: {{ counts.total }} incident{{ '' if counts.total == 1 else 's' }}"
             " ended in {{ project.name }}{% else %}"
             "{{ counts.total }} alert{{ '' if counts.total == 1 else 's' }} in {{ project.name }}{% endif %}")


def _message(headline: str, scan: str, explanation: str, link: str) -> str:
    """A default message: headline, scan, the items, the AI explanation and a link (block lines vanish)."""
    return (
        f"{headline}\n"
        "{% if scan.name %}\n" + scan + "\n{% endif %}\n\n"
        "{{ items_text }}\n"
        "{% if explanation %}\n\n" + explanation + "\n{% endif %}\n"
        "{% if links.inbox %}\n\n" + link + "\n{% endif %}\n"
    )


_DEFAULT_MESSAGE = {
    MessageFormat.plain: _message(
        "[tripl] " + _HEADLINE + " · {{ rule.name }}", "Scan: {{ scan.name }}", "{{ explanation }}",
        "Open in tripl: {{ links.inbox }}"),
    MessageFormat.slack_mrkdwn: _message(
        ":rotating_light: *" + _HEADLINE + "* · {{ rule.name }}", "Scan: _{{ scan.name }}_",
        "> {{ explanation }}", "<{{ links.inbox }}|Open in tripl>"),
    MessageFormat.telegram_html: _message(
        "🚨 <b>" + _HEADLINE + "</b> · {{ rule.name }}", "Scan: <i>{{ scan.name }}</i>",
        "<blockquote>{{ explanation }}</blockquote>", '<a href="{{ links.inbox }}">Open in tripl</a>'),
    MessageFormat.telegram_markdownv2: _message(
        "🚨 *" + _HEADLINE + "* · {{ rule.name }}", "Scan: _{{ scan.name }}_",
        ">{{ explanation }}", "[Open in tripl]({{ links.inbox }})"),
}
DEFAULT_SUBJECT_TEMPLATE = "[tripl] " + _HEADLINE + ": {{ rule.name }}"


def default_templates(fmt: MessageFormat | str) -> tuple[str, str]:
    """(message_template, items_template) used when a rule leaves them null."""
    fmt = MessageFormat(fmt)
    return _DEFAULT_MESSAGE[fmt], _DEFAULT_ITEMS[fmt]


def _tidy(text: str) -> str:
    text = "\n".join(line.rstrip() for line in text.splitlines())
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _one_line(text: str, limit: int = SUBJECT_LIMIT) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def render_subject(template: str | None, context: Mapping[str, Any]) -> str:
    """A one-line plain subject (email subject, issue title): CR/LF collapsed so headers cannot be injected."""
    try:
        return _one_line(_render(template or DEFAULT_SUBJECT_TEMPLATE, MessageFormat.plain, context))
    except Exception:  # noqa: BLE001 — a broken subject template must not stop the email
        return _one_line(_render(DEFAULT_SUBJECT_TEMPLATE, MessageFormat.plain, context))


def _render_items(source: str, fmt: MessageFormat, context: Mapping[str, Any]) -> tuple[Safe, str | None]:
    items = list(context.get("items") or [])
    lines: list[str] = []
    error: str | None = None
    for index, item in enumerate(items[:MAX_ITEMS], start=1):
        scope = {**context, "item": item, "index": index}
        try:
            lines.append(_render(source, fmt, scope))
        except Exception as exc:  # noqa: BLE001 — any failure of a user template: this item uses the default line
            error = error or f"items_template: {exc}"
            lines.append(_render(_DEFAULT_ITEMS[fmt], fmt, scope))
    if len(items) > MAX_ITEMS:
        lines.append(escape(f"… and {len(items) - MAX_ITEMS} more", fmt))
    return Safe("\n".join(line for line in lines if line.strip())), error


def render_message(
    context: Mapping[str, Any],
    fmt: MessageFormat | str = MessageFormat.plain,
    message_template: str | None = None,
    items_template: str | None = None,
    subject_template: str | None = None,
) -> RenderedMessage:
    """Render an alert. Never raises for template problems at send time: a broken custom template falls back to
    the default one and the reason is kept in `template_error`, so the alert still goes out."""
    fmt = MessageFormat(fmt)
    default_message, default_items = default_templates(fmt)
    items_text, error = _render_items(items_template or default_items, fmt, context)
    scope = {**context, "items_text": items_text}
    try:
        text = _render(message_template or default_message, fmt, scope)
        problem = markup_problem(text, fmt) if message_template or items_template else None
        if problem:  # Telegram would refuse the whole message: send the default rendering instead
            raise ValueError(f"{fmt.value}: {problem}")
    except Exception as exc:  # noqa: BLE001 — any failure of a user template falls back to the default
        error = error or f"message_template: {exc}"
        items_text = _render_items(default_items, fmt, context)[0]
        text = _render(default_message, fmt, {**context, "items_text": items_text})
    text = _tidy(text)
    plain = text if fmt is MessageFormat.plain else _tidy(to_plain(text, fmt))
    links = context.get("links") or {}
    project = context.get("project") or {}
    scan = context.get("scan") or {}
    footer = " · ".join(
        str(p) for p in ("tripl", project.get("name"), scan.get("name"), _datetime(context.get("generated_at"))) if p
    )
    kinds = sorted({i.get("kind", "volume") for i in context.get("items") or []})
    return RenderedMessage(
        format=fmt,
        text=text,
        plain_text=plain,
        subject=render_subject(subject_template, context),
        footer=footer,
        url=links.get("delivery") or links.get("inbox") or links.get("project"),
        labels=("tripl", *(f"tripl-{k.replace('_', '-')}" for k in kinds)),
        context=dict(context),
        template_error=error,
    )


def validate_template(
    source: str | None,
    field: str = "message_template",
    fmt: MessageFormat | str = MessageFormat.plain,
) -> None:
    """Check a template when a rule (or destination) is saved: syntax, sandbox, and names against the documented
    context. Raises `Invalid(field, reason)`; `items_template` is checked with `item` and `index` defined."""
    if source is None:
        return
    fmt = MessageFormat(fmt)
    if len(source) > MAX_TEMPLATE_CHARS:
        raise Invalid(field, f"at most {MAX_TEMPLATE_CHARS} characters")
    context: dict[str, Any] = sample_context()
    if field == "items_template":
        context = {**context, "item": context["items"][0], "index": 1}
    else:
        context = {**context, "items_text": Safe("• item")}
    try:
        output = _render(source, fmt, context, strict=True)
    except TemplateSyntaxError as exc:
        raise Invalid(field, f"syntax error on line {exc.lineno}: {exc.message}") from exc
    except SecurityError as exc:
        raise Invalid(field, f"not allowed in a template: {exc}") from exc
    except UndefinedError as exc:
        raise Invalid(field, f"unknown name: {exc.message}") from exc
    except TemplateError as exc:
        raise Invalid(field, str(exc.message or exc)) from exc
    except Exception as exc:  # e.g. a filter given the wrong type: still the user's template, so a 422
        raise Invalid(field, f"template fails on the sample alert: {type(exc).__name__}: {exc}") from exc
    problem = markup_problem(output, fmt)
    if problem:
        raise Invalid(field, f"{fmt.value}: {problem}")
