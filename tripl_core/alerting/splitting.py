"""Splitting and truncating formatted text without breaking its markup.

Telegram rejects messages over 4096 characters and Slack section blocks over 3000, and a cut inside `<b>…`,
`&amp;`, `\\.` or `[label](url)` makes the whole message unparsable ("can't parse entities"). So the text is
tokenised per format, cuts happen between tokens (preferably at a line break), and entities still open at a cut
are closed at the end of the chunk and reopened at the start of the next one.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from tripl_core.alerting.message import MessageFormat

ELLIPSIS = "…"


class _Tok(NamedTuple):
    text: str
    kind: str = "text"  # text | nl | open | close | toggle | atom
    key: str = ""  # entity name for open/close/toggle
    closer: str = ""  # what closes this entity (open/toggle)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units): an emoji outside the BMP counts twice."""
    return len(text.encode("utf-16-le")) // 2


_WORDS = re.compile(r"\n|[^\S\n]+|[^\s]+")


def _text_tokens(text: str) -> list[_Tok]:
    return [_Tok(m.group(), "nl" if m.group() == "\n" else "text") for m in _WORDS.finditer(text)]


_HTML = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^>]*>|&(?:#\d+|#x[0-9a-fA-F]+|\w+);|[^<&]+|[<&]")


def _html_tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    for m in _HTML.finditer(text):
        s = m.group()
        if m.group(2):
            name = m.group(2).lower()
            if m.group(1):
                out.append(_Tok(s, "close", name))
            elif name == "br":
                out.append(_Tok(s, "atom"))
            else:
                out.append(_Tok(s, "open", name, f"</{name}>"))
        elif s.startswith("&") and len(s) > 1:
            out.append(_Tok(s, "atom"))
        else:
            out.extend(_text_tokens(s))
    return out


_MD_LINK = r"!?\[(?:\\.|[^\]\\])*\]\((?:\\.|[^)\\])*\)"
# Outside code: an escape, a code/pre fence, a link, a formatting marker, a run of ordinary text, or one char.
_MD_NORMAL = re.compile(r"(\\.)|(```[^\n`]*\n?)|(`)|(" + _MD_LINK + r")|(\|\||__|[*_~])|([^\\`|_*~\[!\s]+|\s|.)",
                        re.S)
_MD_CODE = re.compile(r"(\\.)|(`)|([^\\`\s]+|\s|.)", re.S)
_MD_PRE = re.compile(r"(\\.)|(```)|([^\\`\s]+|\s|`|.)", re.S)


def _mdv2_tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    i, n = 0, len(text)
    mode = ""  # "", "code" or "pre": inside them only the closing fence and escapes mean anything
    while i < n:
        if mode == "":
            m = _MD_NORMAL.match(text, i)
            assert m is not None
            esc, pre, code, link, marker, plain = m.groups()
            if esc or link:
                out.append(_Tok(m.group(), "atom"))
            elif pre:
                out.append(_Tok(pre, "toggle", "pre", "```"))
                mode = "pre"
            elif code:
                out.append(_Tok("`", "toggle", "code", "`"))
                mode = "code"
            elif marker:
                out.append(_Tok(marker, "toggle", marker, marker))
            else:
                out.append(_Tok(plain, "nl" if plain == "\n" else "text"))
        else:
            m = (_MD_CODE if mode == "code" else _MD_PRE).match(text, i)
            assert m is not None
            esc, fence, plain = m.groups()
            if esc:
                out.append(_Tok(esc, "atom"))
            elif fence:
                out.append(_Tok(fence, "toggle", mode))
                mode = ""
            else:
                out.append(_Tok(plain, "nl" if plain == "\n" else "text"))
        i = m.end()
    return out


_SLACK = re.compile(r"<[^<>\n]*>|&(?:amp|lt|gt);|[^<&]+|[<&]")


def _slack_tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    for m in _SLACK.finditer(text):
        s = m.group()
        if len(s) > 1 and s[0] in "<&":
            out.append(_Tok(s, "atom"))
        else:
            out.extend(_text_tokens(s))
    return out


def _tokens(text: str, fmt: MessageFormat) -> list[_Tok]:
    if fmt is MessageFormat.telegram_html:
        return _html_tokens(text)
    if fmt is MessageFormat.telegram_markdownv2:
        return _mdv2_tokens(text)
    if fmt is MessageFormat.slack_mrkdwn:
        return _slack_tokens(text)
    return _text_tokens(text)


def _chop(tokens: list[_Tok], size: int) -> list[_Tok]:
    """Cut plain words longer than `size` so that no single text token can overflow a chunk."""
    out: list[_Tok] = []
    for t in tokens:
        if t.kind == "text" and len(t.text) > size:
            out.extend(_Tok(t.text[k:k + size]) for k in range(0, len(t.text), size))
        else:
            out.append(t)
    return out


def _apply(stack: list[_Tok], tok: _Tok) -> None:
    if tok.kind == "open":
        stack.append(tok)
    elif tok.kind == "close":
        for k in range(len(stack) - 1, -1, -1):
            if stack[k].key == tok.key:
                del stack[k:]
                break
    elif tok.kind == "toggle":
        if stack and stack[-1].key == tok.key:
            stack.pop()
        else:
            stack.append(tok)


def _closers(stack: list[_Tok]) -> str:
    return "".join(t.closer for t in reversed(stack))


def split_message(text: str, fmt: MessageFormat, limit: int, measure=utf16_len) -> list[str]:
    """Split `text` into chunks of at most `limit` (by `measure`), each valid markup on its own.

    Cuts prefer the last line break that keeps a chunk at least a third full, then a space, then any token
    boundary. Whitespace at a cut is dropped (Telegram trims it anyway).
    """
    if measure(text) <= limit:
        return [text] if text else []
    tokens = _chop(_tokens(text, fmt), max(1, limit // 4))
    sizes = [measure(t.text) for t in tokens]
    n = len(tokens)
    chunks: list[str] = []
    stack: list[_Tok] = []
    i = 0
    while i < n:
        while i < n and (tokens[i].kind == "nl" or tokens[i].text.isspace()):
            i += 1
        if i >= n:
            break
        prefix = "".join(t.text for t in stack)
        work = list(stack)
        size, closing = measure(prefix), measure(_closers(work))
        best_nl = best_sp = last_ok = None  # token index where the chunk would end (exclusive)
        j = i
        while j < n:
            tok = tokens[j]
            if tok.kind in ("open", "close", "toggle"):
                _apply(work, tok)
                closing = measure(_closers(work))
            if size + sizes[j] + closing > limit:
                break
            size += sizes[j]
            j += 1
            last_ok = j
            if tok.kind == "nl":
                if size >= limit // 3:
                    best_nl = j - 1
            elif tok.kind == "text" and tok.text.isspace():
                best_sp = j - 1
        if j >= n:
            end = n
        else:
            end = next((c for c in (best_nl, best_sp, last_ok) if c is not None and c > i), i + 1)
        while end > i + 1 and (tokens[end - 1].kind == "nl" or tokens[end - 1].text.isspace()):
            end -= 1
        for tok in tokens[i:end]:
            _apply(stack, tok)
        chunks.append(prefix + "".join(t.text for t in tokens[i:end]) + _closers(stack))
        i = end
    return [c for c in chunks if c.strip()]


def truncate(text: str, fmt: MessageFormat, limit: int, measure=utf16_len) -> str:
    """The first `limit` of `text`, markup intact, ending with `…` when something was cut."""
    if measure(text) <= limit:
        return text
    first = split_message(text, fmt, max(1, limit - measure(ELLIPSIS)), measure)
    return (first[0] if first else "") + ELLIPSIS
