"""Rendering: per-format escaping of hostile values, default templates, the sandbox, template validation."""

from __future__ import annotations

import re

import pytest

from tripl_core.alerting.context import AlertItem, build_context, sample_context
from tripl_core.alerting.escaping import escape_markdownv2, to_plain
from tripl_core.alerting.message import MessageFormat
from tripl_core.alerting.render import (
    MAX_ITEMS,
    default_templates,
    render_message,
    render_subject,
    validate_template,
)
from tripl_core.errors import Invalid

HOSTILE = "<script>alert(1)</script> *_[]()~`>#+-=|{}.! & <!channel>"


def hostile_context(**over):
    return build_context(
        rule={"name": "Rule " + HOSTILE},
        project={"slug": "shop", "name": "Shop & <Co>"},
        scan={"name": "scan *bold*"},
        items=[AlertItem(scope_type="event", scope_name=HOSTILE, actual=10.0, expected=100.0, z=-4.5,
                         bucket="2026-01-01T10:00:00Z")],
        links={"inbox": "https://tripl.example/p/shop/inbox?a=1&b=2"},
        **over,
    )


def test_plain_keeps_values_verbatim():
    msg = render_message(hostile_context(), "plain")
    assert HOSTILE in msg.text
    assert msg.plain_text == msg.text
    assert "event " + HOSTILE + ": 10 vs expected 100 (-90.0%), z=-4.5" in msg.text


def test_slack_escapes_control_characters_only():
    msg = render_message(hostile_context(), "slack_mrkdwn")
    assert "<script>" not in msg.text and "<!channel>" not in msg.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; *_[]()~`&gt;#+-=|{}.! &amp; &lt;!channel&gt;" in msg.text
    assert "Shop &amp; &lt;Co&gt;" in msg.text
    # the template's own markup is untouched, the link's & is escaped as Slack expects
    assert "<https://tripl.example/p/shop/inbox?a=1&amp;b=2|Open in tripl>" in msg.text
    assert HOSTILE in msg.plain_text


def test_telegram_html_escapes_entities():
    msg = render_message(hostile_context(), "telegram_html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in msg.text
    assert "&amp; &lt;!channel&gt;" in msg.text
    assert '<a href="https://tripl.example/p/shop/inbox?a=1&amp;b=2">Open in tripl</a>' in msg.text
    assert "<b>1 alert in Shop &amp; &lt;Co&gt;</b>" in msg.text
    assert HOSTILE in msg.plain_text


def test_telegram_markdownv2_escapes_every_special_character():
    msg = render_message(hostile_context(), "telegram_markdownv2")
    escaped = escape_markdownv2(HOSTILE)
    assert escaped == ("<script\\>alert\\(1\\)</script\\> \\*\\_\\[\\]\\(\\)\\~\\`\\>\\#\\+\\-\\=\\|\\{\\}\\.\\! & "
                       "<\\!channel\\>")
    assert escaped in msg.text
    assert "scan \\*bold\\*" in msg.text
    assert HOSTILE in msg.plain_text


def test_escape_markdownv2_escapes_backslash():
    assert escape_markdownv2("a\\b") == "a\\\\b"


@pytest.mark.parametrize("fmt", list(MessageFormat))
def test_default_templates_render_every_item_kind(fmt):
    msg = render_message(sample_context(), fmt)
    assert msg.template_error is None
    assert "checkout" in msg.text and "schema drift" in msg.text
    assert "type of `price` in checkout: string, declared integer" in msg.plain_text
    assert "−75 %" in msg.plain_text and "also: project total 900 vs ~1,300 expected" in msg.plain_text
    assert msg.plain_text.count("https://tripl.example/a/") == 3  # every finding links to its page
    assert msg.subject == "[tripl] 2 alerts in Shop App: Checkout volume"
    assert msg.footer == "tripl · Shop App · Hourly events · 2026-01-01 11:05 UTC"
    assert msg.url == "https://tripl.example/p/shop-app/deliveries/1"
    assert msg.labels == ("tripl", "tripl-schema-drift", "tripl-volume")


def test_custom_templates_and_filters():
    ctx = sample_context()
    msg = render_message(
        ctx, "plain",
        message_template="{{ rule.name }} / {{ counts.total }} / {{ counts.drops }} drop\n{{ items_text }}",
        items_template="{{ index }}. {{ item.scope_name }} {{ item.actual|number(1) }} "
                       "{{ item.delta_percent|percent }} {{ item.bucket|datetime('%H:%M') }}",
    )
    assert msg.text.splitlines() == [
        "Checkout volume / 2 / 1 drop",
        "1. checkout.purchase 120.0 -75.0% 10:00",
        "2. checkout   10:00",
    ]


def test_items_beyond_the_limit_are_summarised():
    ctx = build_context(rule={"name": "r"}, project={"name": "p"},
                        items=[AlertItem(scope_name=f"e{i}", actual=1.0, expected=2.0) for i in range(MAX_ITEMS + 5)])
    msg = render_message(ctx, "plain")
    assert "… and 5 more" in msg.text
    assert msg.text.count(" vs expected ") == MAX_ITEMS


def test_broken_template_at_send_time_falls_back_to_default():
    msg = render_message(sample_context(), "plain", message_template="{{ ''.__class__.__mro__ }}")
    assert msg.template_error and "message_template" in msg.template_error
    assert msg.text.startswith("[tripl] 2 alerts in Shop App")


def test_broken_item_template_falls_back_per_item():
    msg = render_message(sample_context(), "plain", items_template="{{ item.z|round(1) }}")
    assert msg.template_error and msg.template_error.startswith("items_template")
    assert "-6.2" in msg.text  # first item used the custom template
    assert "• schema drift: type of `price` in checkout" in msg.text  # second fell back


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__['os'] }}",
    "{{ rule.__class__ }}",
    "{{ items.append(1) }}",
    "{{ rule.update({'name': 'x'}) }}",
    "{{ ''.format.__globals__ }}",
    "{{ 'x' * 100000 }}",
    "{{ 2 ** 100000 }}",
    "{% for i in range(100000) %}{% endfor %}",
    "{% for i in range(200) %}{% for j in range(200) %}{% endfor %}{% endfor %}",
    "{{ lipsum(1000) }}",
])
def test_sandbox_escapes_refused(source):
    with pytest.raises(Invalid) as exc:
        validate_template(source, "message_template")
    assert exc.value.loc == ["body", "message_template"]


def test_output_size_is_bounded():
    with pytest.raises(Invalid, match="longer than"):
        validate_template("{% for i in range(9000) %}{{ 'x' * 20 }}{% endfor %}", "message_template")


@pytest.mark.parametrize(("source", "reason"), [
    ("{{ rule.name ", "syntax error on line 1"),
    ("{% if %}", "syntax error"),
    ("{% for x in items %}", "syntax error"),
    ("{{ rule.nmae }}", "unknown name"),
    ("{{ nothing }}", "unknown name"),
    ("{{ rule.name|nosuchfilter }}", "syntax error"),
    ("x" * 10_001, "at most 10000 characters"),
])
def test_validate_template_names_the_field_and_reason(source, reason):
    with pytest.raises(Invalid, match=reason) as exc:
        validate_template(source, "items_template")
    assert exc.value.loc == ["body", "items_template"]


def test_validate_template_accepts_documented_context():
    validate_template(None)
    validate_template("{{ rule.name }} {{ project.slug }} {{ scan.name }} {{ counts.total }} {{ links.inbox }} "
                      "{{ explanation }} {{ generated_at|datetime }} {{ destination.type }}\n{{ items_text }}"
                      "{% for i in items %}{{ i.scope_label }} {{ i.z }}{% endfor %}")
    validate_template("{{ index }} {{ item.arrow }} {{ item.scope_label }} {{ item.delta|number }} "
                      "{{ item.expected_low }}-{{ item.expected_high }} {{ item.direction }} {{ item.link }}",
                      "items_template", "telegram_html")
    for fmt in MessageFormat:
        message, items = default_templates(fmt)
        validate_template(message, "message_template", fmt)
        validate_template(items, "items_template", fmt)


def test_subject_is_one_line_and_bounded():
    ctx = hostile_context()
    subject = render_subject("{{ project.name }}\r\nBcc: victim@example.com\n{{ 'x' * 400 }}", ctx)
    assert "\n" not in subject and "\r" not in subject
    assert subject.startswith("Shop & <Co> Bcc: victim@example.com")
    assert len(subject) == 255 and subject.endswith("…")


def test_to_plain_conversions():
    assert to_plain('<b>a &amp; b</b> <a href="https://x.io">link</a>', MessageFormat.telegram_html) == \
        "a & b link (https://x.io)"
    assert to_plain("*a* &lt;b&gt; <https://x.io|link>", MessageFormat.slack_mrkdwn) == "*a* <b> link (https://x.io)"
    assert to_plain("*bold* \\*x\\* [l](https://x\\.io)", MessageFormat.telegram_markdownv2) == \
        "bold *x* l (https://x.io)"


def test_context_derives_delta_direction_and_drops_non_finite():
    ctx = build_context(rule={"name": "r"}, project={"name": "p"},
                        items=[AlertItem(actual=150.0, expected=100.0, z=float("nan"))])
    item = ctx["items"][0]
    assert item["delta"] == 50.0 and item["delta_percent"] == 50.0
    assert item["direction"] == "spike" and item["arrow"] == "↑" and item["z"] is None
    assert ctx["counts"] == {"total": 1, "spikes": 1, "drops": 0, "by_kind": {"volume": 1}}


@pytest.mark.parametrize(("fmt", "source", "reason"), [
    ("telegram_html", "<div>{{ rule.name }}</div>", "does not support <div>"),
    ("telegram_html", "<b>{{ rule.name }}", "<b> is opened but never closed"),
    ("telegram_html", "<b><i>x</b></i>", "does not close"),
    ("telegram_html", "Tom & Jerry", "bare &"),
    ("telegram_html", "&nbsp;", "not a Telegram entity"),
    ("telegram_html", "<a>link</a>", "needs an href"),
    ("telegram_markdownv2", "Alert for {{ project.name }}!", "'!' must be escaped"),
    ("telegram_markdownv2", "{{ counts.total }} - {{ rule.name }}", "'-' must be escaped"),
    ("telegram_markdownv2", "*{{ rule.name }}", "'*' is opened but never closed"),
    ("telegram_markdownv2", "`code", "code is not closed"),
    ("telegram_markdownv2", "see [docs]", "'[' must be escaped"),
])
def test_telegram_markup_mistakes_rejected_at_validation(fmt, source, reason):
    with pytest.raises(Invalid, match=re.escape(reason)) as exc:
        validate_template(source, "message_template", fmt)
    assert exc.value.loc == ["body", "message_template"]


@pytest.mark.parametrize(("fmt", "source"), [
    ("telegram_html", '<b>{{ rule.name }}</b> &amp; <a href="{{ links.inbox }}">open</a> <code>{{ z }}</code>'),
    ("telegram_markdownv2", "*{{ rule.name }}* \\- _{{ project.name }}_ [open]({{ links.inbox }}) `a.b` \\!"),
    ("telegram_markdownv2", ">{{ explanation }}\n||spoiler|| __u__ ~s~\n```\nx.y!\n```"),
])
def test_valid_telegram_markup_accepted(fmt, source):
    validate_template(source.replace("{{ z }}", "{{ counts.total }}"), "message_template", fmt)


def test_invalid_markup_at_send_time_falls_back_to_default():
    msg = render_message(sample_context(), "telegram_markdownv2", message_template="Alert {{ rule.name }}!")
    assert msg.template_error and "'!' must be escaped" in msg.template_error
    assert msg.text.startswith("🚨 *2 alerts in Shop App*")


def test_nested_loops_over_many_items_are_bounded():
    ctx = build_context(rule={"name": "r"}, project={"name": "p"},
                        items=[AlertItem(actual=1.0, expected=2.0) for _ in range(200)])
    msg = render_message(ctx, "plain", message_template="{% for a in items %}{% for b in items %}.{% endfor %}"
                                                         "{% endfor %}")
    assert msg.template_error and "loops more than" in msg.template_error
    ok = render_message(ctx, "plain", message_template="{% for a in items %}{{ loop.index }} {% endfor %}")
    assert ok.template_error is None and ok.text.endswith("200")
