"""Per-format escaping of interpolated values, and conversion of formatted text back to plain text.

Values in alerts come from the warehouse (event names, field values), so they are untrusted: a name like
`<!channel>` or `*_[]` must show as written, never ping a channel or break the markup. Every `{{ value }}` of a
template goes through `escape(value, format)`; the markup the template author wrote stays as is.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from tripl_core.alerting.message import MessageFormat

# Telegram Bot API, "MarkdownV2 style": these must be escaped with a backslash everywhere outside entities, and
# any character 1..126 may be escaped anywhere, so escaping all of them is valid inside links and code too.
MARKDOWNV2_SPECIAL = "\\_*[]()~`>#+-=|{}.!"
_MDV2_RE = re.compile("([" + re.escape(MARKDOWNV2_SPECIAL) + "])")


def escape_slack(text: str) -> str:
    """Slack mrkdwn: only `&`, `<` and `>` are control characters (links, mentions, entities)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_telegram_html(text: str) -> str:
    """Telegram HTML: `&`, `<`, `>` and quotes (values may land inside `href="…"`) as entities."""
    return html.escape(text, quote=True)


def escape_markdownv2(text: str) -> str:
    """Telegram MarkdownV2: backslash before each of `_*[]()~`>#+-=|{}.!` and the backslash itself."""
    return _MDV2_RE.sub(r"\\\1", text)


def escape(text: str, fmt: MessageFormat) -> str:
    """Escape an interpolated value for `fmt` (plain text needs nothing)."""
    if fmt is MessageFormat.slack_mrkdwn:
        return escape_slack(text)
    if fmt is MessageFormat.telegram_html:
        return escape_telegram_html(text)
    if fmt is MessageFormat.telegram_markdownv2:
        return escape_markdownv2(text)
    return text


_MD_RE = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def escape_markdown(text: str) -> str:
    """CommonMark (Linear descriptions): backslash-escape every ASCII punctuation that can start markup."""
    return _MD_RE.sub(r"\\\1", text)


class _TextExtractor(HTMLParser):
    """Telegram HTML → text: drop tags, keep link targets visible, unescape entities."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hrefs: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        self._hrefs.append(dict(attrs).get("href") if tag == "a" else None)

    def handle_endtag(self, tag: str) -> None:
        href = self._hrefs.pop() if self._hrefs else None
        if href and not href.startswith("tg://"):
            self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


_SLACK_LINK = re.compile(r"<([^<>|]+)\|([^<>]+)>")
_SLACK_BARE = re.compile(r"<([^<>|]+)>")
_MDV2_LINK = re.compile(r"\[((?:\\.|[^\]\\])*)\]\(((?:\\.|[^)\\])*)\)")
_MDV2_UNESCAPE = re.compile(r"\\(.)", re.S)


def to_plain(text: str, fmt: MessageFormat) -> str:
    """Best-effort plain text of a formatted message, for channels without that markup (email, Jira, Linear)."""
    if fmt is MessageFormat.telegram_html:
        parser = _TextExtractor()
        parser.feed(text)
        parser.close()
        return "".join(parser.parts)
    if fmt is MessageFormat.slack_mrkdwn:
        text = _SLACK_LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
        text = _SLACK_BARE.sub(lambda m: m.group(1), text)
        return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    if fmt is MessageFormat.telegram_markdownv2:
        text = _MDV2_LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
        # drop unescaped formatting and blockquote markers, then the escapes themselves
        text = re.sub(r"(?m)^(\*\*)?>", "", text)
        text = re.sub(r"(?<!\\)(\|\||__|```|[*_~`])", "", text)
        return _MDV2_UNESCAPE.sub(r"\1", text)
    return text
