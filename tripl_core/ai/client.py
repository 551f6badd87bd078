"""A small OpenAI-compatible client (chat completions, embeddings) over httpx.

Every failure of the endpoint (unreachable, timeout, HTTP error, unexpected body) becomes an `UpstreamError` whose
message says what went wrong, so the API answers 502 with the reason instead of a 500.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from tripl_core import outbound, redaction
from tripl_core.errors import Conflict, UpstreamError
from tripl_core.service_settings import EffectiveSettings, is_header_token

EMBED_BATCH = 64


def disabled_reason(eff: EffectiveSettings) -> str | None:
    """Why AI calls cannot run now, or None when they can."""
    if not eff.ai_enabled:
        return "AI assistance is off; an owner can enable it in the AI settings (ai_enabled)."
    if not eff.ai_base_url or not eff.ai_model:
        return "AI assistance needs ai_base_url and ai_model in the AI settings."
    return None


def require_enabled(eff: EffectiveSettings) -> None:
    reason = disabled_reason(eff)
    if reason:
        raise Conflict(reason)


def _headers(api_key: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if api_key:
        if not is_header_token(api_key):  # the settings API refuses it; an environment variable may carry one
            raise UpstreamError("The AI API key has characters an HTTP header cannot carry (non-ASCII, spaces "
                                "or control characters); set ai_api_key again in the AI settings.")
        headers["Authorization"] = f"Bearer {api_key}"
    return headers


def _post(url: str, api_key: str | None, payload: dict[str, Any], timeout: float, what: str) -> dict[str, Any]:
    """POST through the outbound policy; every error message passes the redaction step (the key, and the query
    and userinfo of the URL: some gateways take the key there) before it reaches a response or the log."""
    redactor = redaction.Redactor([api_key, *redaction.url_parts(url, whole=False)])
    with redaction.scope(redactor):
        try:
            return _exchange(url, api_key, payload, timeout, what)
        except UpstreamError as exc:
            raise UpstreamError(redactor(exc.message) or "") from None


def _exchange(url: str, api_key: str | None, payload: dict[str, Any], timeout: float, what: str) -> dict[str, Any]:
    shown = redaction.strip_url_paths(url) if "@" in url or "?" in url else url
    try:
        with outbound.client(timeout=httpx.Timeout(timeout, connect=min(5.0, timeout))) as http:
            resp = http.post(url, json=payload, headers=_headers(api_key))
    except httpx.TimeoutException:
        raise UpstreamError(f"The {what} endpoint did not answer within {timeout:g} s ({shown}).") from None
    except outbound.OutboundRefused as exc:
        raise UpstreamError(f"The {what} endpoint is not allowed ({shown}): {exc}") from None
    except httpx.HTTPError as exc:
        raise UpstreamError(f"The {what} endpoint is unreachable ({shown}): {exc}") from None
    if resp.status_code >= 400:
        raise UpstreamError(f"The {what} endpoint answered HTTP {resp.status_code}: {_error_text(resp)}")
    try:
        body = resp.json()
    except ValueError:
        raise UpstreamError(f"The {what} endpoint did not answer with JSON: {redaction.clip(resp.text, 200)!r}") from None
    if not isinstance(body, dict):
        raise UpstreamError(f"The {what} endpoint answered with an unexpected body: {redaction.clip(resp.text, 200)!r}")
    return body


def _error_text(resp: httpx.Response) -> str:
    try:
        err = resp.json().get("error")
        if isinstance(err, dict) and err.get("message"):
            return redaction.clip(str(err["message"]), 300)
        if isinstance(err, str):
            return redaction.clip(err, 300)
    except (ValueError, AttributeError):
        pass
    return redaction.clip(resp.text, 300) or resp.reason_phrase


def chat(eff: EffectiveSettings, system_prompt: str, user_message: str, max_tokens: int | None = None) -> str:
    """One chat completion; returns the assistant's text."""
    url = eff.ai_base_url.rstrip("/") + "/chat/completions"
    payload = {
        "model": eff.ai_model,
        "messages": [{"role": "system", "content": system_prompt}, {"role": "user", "content": user_message}],
        "max_tokens": max_tokens or eff.ai_max_output_tokens,
        "temperature": 0.2,
    }
    body = _post(url, eff.ai_api_key, payload, float(eff.ai_timeout_seconds), "AI")
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise UpstreamError("The AI endpoint's answer has no choices[0].message.content.") from None
    if not isinstance(content, str) or not content.strip():
        raise UpstreamError("The AI endpoint answered with an empty message.")
    return content.strip()


def parse_json_answer(text: str) -> dict[str, Any]:
    """The JSON object in a model's answer, tolerating ```json fences and prose around it."""
    fenced = re.search(r"```(?:json)?\s*(\{.*?\})\s*```", text, re.S)
    candidate = fenced.group(1) if fenced else text[text.find("{"): text.rfind("}") + 1]
    try:
        data = json.loads(candidate)
    except ValueError:
        raise UpstreamError(f"The AI endpoint did not answer with the requested JSON: {text[:200]!r}") from None
    if not isinstance(data, dict):
        raise UpstreamError("The AI endpoint answered with JSON that is not an object.")
    return data


def embeddings_reason(eff: EffectiveSettings) -> str | None:
    """Why semantic search cannot run now, or None when it can."""
    if not eff.search_embeddings_enabled:
        return "search embeddings are off (search_embeddings_enabled)"
    if not (eff.search_embedding_base_url or eff.ai_base_url) or not eff.search_embedding_model:
        return "search embeddings need a base URL and search_embedding_model"
    return None


def embed(eff: EffectiveSettings, texts: list[str]) -> list[list[float]]:
    """Embedding vectors for `texts`, in order, batched."""
    base = (eff.search_embedding_base_url or eff.ai_base_url).rstrip("/")
    key = eff.search_embedding_api_key or eff.ai_api_key
    out: list[list[float]] = []
    for start in range(0, len(texts), EMBED_BATCH):
        batch = texts[start:start + EMBED_BATCH]
        body = _post(base + "/embeddings", key, {"model": eff.search_embedding_model, "input": batch},
                     float(eff.ai_timeout_seconds), "embeddings")
        try:
            rows = sorted(body["data"], key=lambda r: r.get("index", 0))
            vectors = [[float(x) for x in r["embedding"]] for r in rows]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise UpstreamError("The embeddings endpoint's answer has no data[].embedding lists.") from None
        if len(vectors) != len(batch) or any(not v for v in vectors):
            raise UpstreamError(f"The embeddings endpoint returned {len(vectors)} vectors for {len(batch)} inputs.")
        out.extend(vectors)
    return out


def test_connection(eff: EffectiveSettings, prompt: str) -> tuple[bool, str]:
    """Send `prompt` with the current settings (even while AI is off, so it can be checked before enabling)."""
    try:
        answer = chat(eff, "You are a connectivity check. Answer briefly.", prompt, max_tokens=50)
    except UpstreamError as exc:
        return False, exc.message
    note = "" if eff.ai_enabled else " (AI assistance is still off: set ai_enabled to use it)"
    return True, f"{eff.ai_model} answered: {answer[:200]}{note}"
