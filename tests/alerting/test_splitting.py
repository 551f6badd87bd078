"""Splitting long messages for Telegram (4096) and Slack sections (3000) without breaking entities."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from tripl_core.alerting.escaping import escape_markdownv2, escape_telegram_html, to_plain
from tripl_core.alerting.message import MessageFormat
from tripl_core.alerting.splitting import split_message, truncate, utf16_len

LIMIT = 4096


class _Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}> in {self.stack}"
        self.stack.pop()


def assert_valid_html(chunk: str) -> None:
    parser = _Balance()
    parser.feed(chunk)
    parser.close()
    assert parser.stack == [], f"unclosed tags {parser.stack}"
    assert not re.search(r"&(?![a-z]+;|#\d+;|#x[0-9a-f]+;)", chunk), "a cut inside an entity"
    assert not re.search(r"<[^>]*$", chunk), "a cut inside a tag"


def assert_valid_mdv2(chunk: str) -> None:
    unescaped = re.sub(r"\\.", "", chunk)
    assert not unescaped.endswith("\\")
    for marker in ("*", "~", "`"):
        assert unescaped.count(marker) % 2 == 0, f"unbalanced {marker!r}"
    assert len(re.findall(r"\[", unescaped)) == len(re.findall(r"\]\(", unescaped)), "a cut inside a link"


def html_message(lines: int) -> str:
    rows = [f"↓ <b>event {escape_telegram_html('a&b <x>')} #{i}</b>: <a href=\"https://x.io/{i}?a=1&amp;b=2\">"
            f"details</a> &amp; more" for i in range(lines)]
    return "<b>Header</b>\n<i>" + "\n".join(rows) + "</i>"


def test_short_message_is_one_chunk():
    assert split_message("<b>hi</b>", MessageFormat.telegram_html, LIMIT) == ["<b>hi</b>"]
    assert split_message("", MessageFormat.plain, LIMIT) == []


def test_html_split_keeps_every_chunk_valid_and_loses_nothing():
    text = html_message(200)
    chunks = split_message(text, MessageFormat.telegram_html, LIMIT)
    assert len(chunks) > 2
    for chunk in chunks:
        assert utf16_len(chunk) <= LIMIT
        assert_valid_html(chunk)
    # the <i> opened in the first chunk is reopened in the following ones
    assert all(c.startswith("<i>") for c in chunks[1:])
    # cuts happen at line breaks: each original line appears whole in exactly one chunk
    got = [line for c in chunks for line in to_plain(c, MessageFormat.telegram_html).splitlines()]
    assert got == to_plain(text, MessageFormat.telegram_html).splitlines()


def test_html_single_huge_line_is_cut_between_tokens():
    text = "<b>" + " ".join(f"w{i}&amp;x" for i in range(3000)) + "</b>"
    chunks = split_message(text, MessageFormat.telegram_html, LIMIT)
    assert len(chunks) >= 4
    for chunk in chunks:
        assert utf16_len(chunk) <= LIMIT
        assert_valid_html(chunk)
        assert chunk.startswith("<b>") and chunk.endswith("</b>")


def test_html_link_reopened_with_its_href():
    text = '<a href="https://x.io/?q=1&amp;r=2">' + "word " * 2000 + "</a>"
    chunks = split_message(text, MessageFormat.telegram_html, LIMIT)
    assert len(chunks) >= 3
    assert all(c.startswith('<a href="https://x.io/?q=1&amp;r=2">') and c.endswith("</a>") for c in chunks)


def test_markdownv2_split_never_breaks_escapes_markers_or_links():
    rows = [f"↓ *{escape_markdownv2('event a.b-c (x)!')} {i}* [details](https://x\\.io/{i}) `{i}\\.0%`"
            for i in range(300)]
    text = "_" + "\n".join(rows) + "_"
    chunks = split_message(text, MessageFormat.telegram_markdownv2, LIMIT)
    assert len(chunks) > 2
    for chunk in chunks:
        assert utf16_len(chunk) <= LIMIT
        assert_valid_mdv2(chunk)
        assert chunk.startswith("_") and chunk.endswith("_")


def test_markdownv2_pre_block_reopened_with_language():
    text = "```python\n" + "\n".join(f"x = {i}  # \\` tick" for i in range(600)) + "\n```"
    chunks = split_message(text, MessageFormat.telegram_markdownv2, LIMIT)
    assert len(chunks) >= 2
    for chunk in chunks:
        assert chunk.startswith("```python\n") and chunk.endswith("```")
        assert utf16_len(chunk) <= LIMIT


def test_markdownv2_escape_pair_is_atomic_at_the_boundary():
    text = "\\." * 5000
    chunks = split_message(text, MessageFormat.telegram_markdownv2, LIMIT)
    assert all(not re.sub(r"\\.", "", c) for c in chunks)  # only whole escape pairs
    assert "".join(chunks) == text


def test_limit_counts_utf16_units():
    text = "😀" * 3000  # 6000 UTF-16 units, 3000 code points
    chunks = split_message(text, MessageFormat.plain, LIMIT)
    assert len(chunks) == 2
    assert all(utf16_len(c) <= LIMIT for c in chunks)
    assert "".join(chunks) == text


def test_plain_prefers_line_breaks():
    lines = [f"line {i} " + "x" * 50 for i in range(200)]
    chunks = split_message("\n".join(lines), MessageFormat.plain, LIMIT)
    assert [line for c in chunks for line in c.split("\n")] == lines


@pytest.mark.parametrize("fmt", [MessageFormat.telegram_html, MessageFormat.slack_mrkdwn])
def test_truncate_appends_ellipsis_and_keeps_markup(fmt):
    text = "<b>" + "a &amp; b " * 1000 + "</b>" if fmt is MessageFormat.telegram_html else "a &amp; <b> " * 1000
    out = truncate(text, fmt, 100)
    assert utf16_len(out) <= 100 and out.endswith("…")
    if fmt is MessageFormat.telegram_html:
        assert_valid_html(out[:-1])
    assert truncate("short", fmt, 100) == "short"


def test_slack_tokens_keep_links_whole():
    text = " ".join(f"<https://x.io/{i}|link {i}>" for i in range(400))
    chunks = split_message(text, MessageFormat.slack_mrkdwn, 3000, measure=len)
    for chunk in chunks:
        assert len(chunk) <= 3000
        assert chunk.count("<") == chunk.count(">")
