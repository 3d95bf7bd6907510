"""The request id of the work in progress, so every audit record made while serving a
request carries it, not only those whose caller passed it down; and where the request
came from (the caller's address and the door: ``api`` or ``console``), so a recorded
read of a client says it.

The web layer binds them for the length of a request; background work runs with none.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from dataclasses import dataclass


@dataclass(frozen=True)
class Origin:
    """Where a request came from."""

    request_id: str | None = None
    address: str | None = None
    channel: str | None = None


# A frozen dataclass: the shared default cannot be changed in place.
_origin: ContextVar[Origin] = ContextVar("riskloop_request_origin", default=Origin())  # noqa: B039


def bind(
    request_id: str | None, *, address: str | None = None, channel: str | None = None
) -> Token[Origin]:
    """Make the request current; hand the token to :func:`unbind` when the request ends."""
    return _origin.set(Origin(request_id, address, channel))


def unbind(token: Token[Origin]) -> None:
    try:
        _origin.reset(token)
    except ValueError:  # ended in another context than it began: forget it there
        _origin.set(Origin())


def current_request_id() -> str | None:
    return _origin.get().request_id


def current_origin() -> Origin:
    return _origin.get()
