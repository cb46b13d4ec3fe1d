"""One exception hierarchy: every failure a caller can act on has a type and a plain message."""

from __future__ import annotations

from typing import Any


class RememError(Exception):
    """Base of every error remem raises on purpose."""

    code = "remem_error"
    status = 500


class InvalidInput(RememError, ValueError):
    """The caller passed something remem cannot store or use; nothing was written."""

    code = "invalid_input"
    status = 422


class NotFound(RememError, KeyError):
    """No memory with that id is visible in the given scope."""

    code = "not_found"
    status = 404

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "not found"


class ScopeError(InvalidInput):
    """A scope is missing or too broad for the operation (e.g. bulk delete with no user)."""

    code = "scope_error"
    status = 400


class Unauthorized(RememError):
    """The service refused the request: no API key, an unknown one, or a revoked one."""

    code = "unauthorized"
    status = 401


class AmbiguousCredentials(Unauthorized):
    """The request named two different API keys (``Authorization`` and ``X-API-Key``)."""

    code = "ambiguous_credentials"
    status = 400


class Forbidden(RememError):
    """The caller may not do this (e.g. write a system turn without that permission)."""

    code = "forbidden"
    status = 403


class Conflict(RememError):
    """The write lost a race (e.g. updating a version that is no longer current)."""

    code = "conflict"
    status = 409


class StoreError(RememError):
    """The storage backend failed or its data is not in the expected shape."""

    code = "store_error"
    status = 503


class ProviderError(RememError):
    """An embedder or LLM could not be loaded or answered badly."""

    code = "provider_error"
    status = 502


class UnusableAnswer(ProviderError):
    """The LLM answered, but not in the shape asked for, even after repairs.

    Unlike an unreachable or refusing server, this is about one answer: callers may record
    it and go on. ``usage`` holds what the failed attempts cost.
    """

    def __init__(self, message: str, usage: Any = None) -> None:
        super().__init__(message)
        self.usage = usage
