"""Domain errors. The API maps each to one HTTP status; pipelines log them. Messages are meant for people."""

from __future__ import annotations

from collections.abc import Sequence


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Forbidden(DomainError):
    status_code = 403


class Unauthorized(DomainError):
    status_code = 401


class TooManyRequests(DomainError):
    status_code = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLarge(DomainError):
    status_code = 413


class UpstreamError(DomainError):
    """A system we call (warehouse, LLM, channel) failed; the message carries its reason."""

    status_code = 502


class Invalid(DomainError):
    """Bad input that only the domain can judge. `loc` names the field, as in FastAPI's own 422s."""

    status_code = 422

    def __init__(self, field: str | Sequence[str | int], message: str, loc_prefix: str = "body"):
        super().__init__(message)
        path = [field] if isinstance(field, str) else list(field)
        self.loc: list[str | int] = [loc_prefix, *path] if loc_prefix else path
