"""The request id of the work in progress, so every audit record made while serving a
request carries it, not only those whose caller passed it down.

The web layer binds it for the length of a request; background work runs with none.
"""

from __future__ import annotations

from contextvars import ContextVar, Token

_request_id: ContextVar[str | None] = ContextVar("riskloop_request_id", default=None)


def bind(request_id: str | None) -> Token[str | None]:
    """Make ``request_id`` current; hand the token to :func:`unbind` when the request ends."""
    return _request_id.set(request_id)


def unbind(token: Token[str | None]) -> None:
    try:
        _request_id.reset(token)
    except ValueError:  # ended in another context than it began: forget it there
        _request_id.set(None)


def current_request_id() -> str | None:
    return _request_id.get()
