"""Checks that a rendered Telegram message will parse, so template mistakes are a 422 when the rule is saved.

Telegram rejects a whole message ("Bad Request: can't parse entities") for one unsupported tag, one unclosed
entity or — the usual MarkdownV2 slip — one unescaped `.`, `-` or `!` written in the template itself. Values
interpolated by the renderer are always escaped, so anything reported here is in the template's literal text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from tripl_core.alerting.message import MessageFormat

# Telegram Bot API "HTML style" tags.
TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "code",
                 "pre", "blockquote", "tg-emoji"}


class _HtmlCheck(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.problem: str | None = None

    def _fail(self, reason: str) -> None:
        self.problem = self.problem or reason

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in TELEGRAM_TAGS:
            self._fail(f"Telegram HTML does not support <{tag}>; use {', '.join(sorted(TELEGRAM_TAGS))}")
        elif tag == "a" and not dict(attrs).get("href"):
            self._fail("<a> needs an href")
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self._fail(f"</{tag}> does not close the open tag" + (f" <{self.stack[-1]}>" if self.stack else ""))
            return
        self.stack.pop()

    def handle_entityref(self, name: str) -> None:
        if name not in ("lt", "gt", "amp", "quot"):
            self._fail(f"&{name}; is not a Telegram entity; use &lt; &gt; &amp; &quot; or a numeric one")


_MDV2_SPECIAL = set("_*[]()~`>#+-=|{}.!")


def _check_markdownv2(text: str) -> str | None:
    """Walk the text like Telegram's parser: escapes, code/pre, links, then balanced markers and no stray specials."""
    i, n, line = 0, len(text), 1
    open_markers: list[str] = []
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        if c == "\\":
            i += 2
            continue
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            if end < 0:
                return f"line {line}: ``` block is not closed"
            line += text.count("\n", i, end)
            i = end + 3
            continue
        if c == "`":
            end = text.find("`", i + 1)
            if end < 0:
                return f"line {line}: ` code is not closed"
            i = end + 1
            continue
        if c == "[" or (c == "!" and text.startswith("![", i)):
            m = re.compile(r"!?\[(?:\\.|[^\]\\])*\]\((?:\\.|[^)\\])*\)", re.S).match(text, i)
            if not m:
                return f"line {line}: '{c}' must be escaped as \\{c} (or write a [text](url) link)"
            i = m.end()
            continue
        if c == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1
            continue
        marker = next((mk for mk in ("||", "__", "*", "_", "~") if text.startswith(mk, i)), None)
        if marker:
            if open_markers and open_markers[-1] == marker:
                open_markers.pop()
            else:
                open_markers.append(marker)
            i += len(marker)
            continue
        if c in _MDV2_SPECIAL:
            return f"line {line}: '{c}' must be escaped as \\{c} in MarkdownV2"
        i += 1
    if open_markers:
        return f"'{open_markers[-1]}' is opened but never closed"
    return None


def markup_problem(text: str, fmt: MessageFormat) -> str | None:
    """Why Telegram would refuse `text` in `fmt`, or None. Other formats have nothing to refuse."""
    if fmt is MessageFormat.telegram_html:
        check = _HtmlCheck()
        check.feed(text)
        check.close()
        if check.problem:
            return check.problem
        if check.stack:
            return f"<{check.stack[-1]}> is opened but never closed"
        if re.search(r"&(?![a-zA-Z]+;|#\d+;|#x[0-9a-fA-F]+;)", text):
            return "a bare & must be written &amp;"
        return None
    if fmt is MessageFormat.telegram_markdownv2:
        return _check_markdownv2(text)
    return None
