"""Every error the engine raises, rooted at :class:`RiskloopError`.

The API maps each class to a problem document (RFC 9457); ``status`` is the
HTTP status that fits and ``slug`` names the problem type. ``detail`` is English for
API clients; the common refusals also carry a stable ``code`` and its ``params`` so
that the console can say them in the reader's language (neither is sent by the API).
"""

from __future__ import annotations

import json
from typing import Any


class Message(str):
    """An English sentence that also carries a stable ``code`` and its ``params``.

    It is a plain ``str`` wherever text is expected (problem documents, logs, field
    messages); a console reads ``code`` and ``params`` to say it in another language.
    Guards return one as their reason, validators raise one as a field message.
    """

    code: str
    params: dict[str, Any]

    def __new__(cls, code: str, text: str, **params: Any) -> Message:
        message = super().__new__(cls, text)
        message.code = code
        message.params = params
        return message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_message, (self.code, str(self), self.params))

    def format(self, *args: Any, **kwargs: Any) -> Message:  # type: ignore[override]
        """The sentence with its ``{placeholders}`` filled, still coded: marshmallow fills a
        field's or validator's message this way. The params given at creation are kept over
        the placeholders' values (a choice's list over its joined text)."""
        return Message(self.code, str.format(self, *args, **kwargs), **{**kwargs, **self.params})


def shown(value: Any) -> str:
    """``value`` as its writer would read it in a YAML or JSON document (``null``, ``true``,
    ``[1, 2]``, text as it is): a message's param, never a Python repr."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _rebuild_message(code: str, text: str, params: dict[str, Any]) -> Message:
    return Message(code, text, **params)


class RiskloopError(Exception):
    """Raised when riskloop refuses or cannot complete an operation."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        params: dict[str, Any] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = str(detail)
        self.extra = extra
        # A Message as the detail (e.g. a guard's reason) brings its own code.
        self.code: str | None = code or getattr(detail, "code", None)
        self.params: dict[str, Any] = dict(
            params if params is not None else getattr(detail, "params", None) or {}
        )


class DefinitionError(RiskloopError):
    """Raised when a workflow definition file is invalid; names the file, key and fix."""

    status = 500
    slug = "invalid-definition"
    title = "Invalid workflow definition"
    file: str
    key: str

    def __init__(
        self, file: str, key: str, message: str, more: tuple[DefinitionError, ...] = ()
    ) -> None:
        detail = f"{file}: {key}: {message}" + "".join(f"; {p.key}: {p.fix}" for p in more)
        super().__init__(
            detail,
            code=getattr(message, "code", None),
            params=getattr(message, "params", None),
            file=file,
            key=key,
        )
        self.file = file
        self.key = key
        # what to fix, without the file and key (a Message when the raiser gave a code)
        self.fix: str = message
        # every problem found in one pass: this one first, then ``more``
        self.problems: tuple[DefinitionError, ...] = (
            (DefinitionError(file, key, message), *more) if more else (self,)
        )

    @classmethod
    def collected(cls, problems: list[DefinitionError]) -> DefinitionError:
        """One error for every problem found (``problems`` lists them; the detail says
        them all): the first one's file and key."""
        first, *rest = problems
        return cls(first.file, first.key, first.fix, tuple(rest)) if rest else first


class ConfigurationError(RiskloopError):
    """Raised when required configuration is missing or malformed."""

    status = 500
    slug = "configuration"
    title = "Configuration error"


class AuthenticationFailed(RiskloopError):
    """Raised when credentials or a bearer token are missing, wrong or expired."""

    status = 401
    slug = "unauthenticated"
    title = "Authentication required"


class Forbidden(RiskloopError):
    """Raised when the actor lacks a role or a guard (segregation of duties) refuses."""

    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(RiskloopError):
    """Raised when an instance, definition, user or other record does not exist."""

    status = 404
    slug = "not-found"
    title = "Not found"


class UnknownAction(NotFound):
    """Raised when a trigger is not defined by the instance's workflow definition."""

    slug = "unknown-action"
    title = "Unknown action"


class Conflict(RiskloopError):
    """Raised when the request conflicts with the current state of a record."""

    status = 409
    slug = "conflict"
    title = "Conflict"


class VersionConflict(Conflict):
    """Raised when ``expected_version`` is not the instance's current version."""

    slug = "version-conflict"
    title = "Version conflict"


class IllegalState(Conflict):
    """Raised when a trigger exists but cannot fire from the instance's current state."""

    slug = "illegal-state"
    title = "Action not allowed in this state"


class Duplicate(Conflict):
    """Raised when a record that must be unique already exists."""

    slug = "duplicate"
    title = "Duplicate"


class IdempotencyMismatch(Conflict):
    """Raised when an idempotency key is reused for a different request."""

    slug = "idempotency-key-reused"
    title = "Idempotency key reused"


class Unprocessable(RiskloopError):
    """Raised when input is well-formed but fails validation or a transition condition."""

    status = 422
    slug = "unprocessable"
    title = "Unprocessable request"


class ValidationFailed(Unprocessable):
    """Raised when fields fail validation; ``extra['errors']`` maps field to messages."""

    slug = "validation"
    title = "Validation failed"


class ConditionNotMet(Unprocessable):
    """Raised when no transition's condition holds for the current data."""

    slug = "condition-not-met"
    title = "Condition not met"


class PayloadTooLarge(RiskloopError):
    """Raised when an upload or body exceeds its configured size limit."""

    status = 413
    slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(RiskloopError):
    """Raised when an uploaded file's content type is not on the allow-list."""

    status = 415
    slug = "unsupported-media-type"
    title = "Unsupported media type"


class ServiceUnavailable(RiskloopError):
    """Raised when the database, broker or a data provider cannot be reached."""

    status = 503
    slug = "unavailable"
    title = "Service unavailable"


class TaskFailed(RiskloopError):
    """Raised by a background task for a transient failure that should be retried."""

    status = 503
    slug = "task-failed"
    title = "Background task failed"


class DeliveryRefused(RiskloopError):
    """Raised when a receiver refuses a delivery for good (a group robot's error code for a
    bad signature, key or message); the task is not retried and opens an incident."""

    status = 502
    slug = "delivery-refused"
    title = "Delivery refused"


class BadQuery(RiskloopError):
    """Raised when query parameters (filters, cursor, time range) are malformed."""

    status = 400
    slug = "bad-query"
    title = "Malformed query"
