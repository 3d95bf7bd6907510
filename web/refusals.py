"""The engine's refusals and field messages in the reader's language.

``workflow`` speaks English (``detail`` for API clients). Refusals and field messages
carry a stable ``code`` and ``params`` (:class:`workflow.errors.Message` and
``RiskloopError.code``; marshmallow's messages through ``workflow/field_messages.py``),
worded by ``web/texts.py``. A refusal without a known code gets a sentence for its error
class, with the engine's own words beside it in small print, so nothing is hidden; a
field message without one is shown as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from markupsafe import Markup, escape

from workflow import errors as e

from .texts import field_text, refusal_text


@dataclass(frozen=True)
class Refusal:
    """What the page says about a refused request; renders itself in templates."""

    text: str
    original: str | None = None  # the engine's English detail, when no code was known

    def __str__(self) -> str:
        return self.text

    def __html__(self) -> str:
        if not self.original:
            return str(escape(self.text))
        return str(
            Markup('{} <small class="original" lang="en">{}</small>').format(
                self.text, self.original
            )
        )


def _generic(exc: e.RiskloopError) -> str:
    """One sentence per error class, most specific first."""
    for cls, say in (
        (e.VersionConflict, lambda: _("Someone acted first — reload.")),
        (e.IllegalState, lambda: _("This action is not possible at the case's current step.")),
        (e.UnknownAction, lambda: _("This case has no such action.")),
        (e.Duplicate, lambda: _("This already exists.")),
        (
            e.IdempotencyMismatch,
            lambda: _("This form was already sent for another action; reload the page."),
        ),
        (
            e.Conflict,
            lambda: _(
                "The record changed or is in a state that does not allow this; reload the page."
            ),
        ),
        (e.Forbidden, lambda: _("You may not do this.")),
        (e.NotFound, lambda: _("The record does not exist, or you cannot see it.")),
        (e.ConditionNotMet, lambda: _("This action is not possible with this case's data.")),
        (e.ValidationFailed, lambda: _("Some input is invalid.")),
        (e.Unprocessable, lambda: _("The request cannot be processed.")),
        (e.PayloadTooLarge, lambda: _("The upload is too large.")),
        (e.UnsupportedMediaType, lambda: _("This type of file is not accepted.")),
        (e.ServiceUnavailable, lambda: _("The service is busy; try again in a moment.")),
        (e.AuthenticationFailed, lambda: _("Please sign in.")),
    ):
        if isinstance(exc, cls):
            return say()
    return _("The request could not be completed.")


def refusal(exc: e.RiskloopError, definition: Any = None) -> Refusal:
    """``exc`` in the reader's language; ``definition`` words actions and states."""
    if exc.code:
        text = refusal_text(exc.code, exc.params, definition)
        if text is not None:
            return Refusal(text)
    if isinstance(exc, e.ValidationFailed) and exc.extra.get("errors"):
        return Refusal(_("Some input is invalid."))  # each field says what is wrong with it
    return Refusal(_generic(exc), exc.detail)


# Field messages ----------------------------------------------------------------------


def field_message(message: Any) -> str:
    """One field message in the reader's language (unknown ones stay as they are)."""
    code = getattr(message, "code", None)
    if code:
        text = field_text(code, getattr(message, "params", {}) or {})
        if text is not None:
            return text
    return str(message)


def field_messages(errors: Any) -> Any:
    """The same nesting as the engine's ``errors`` (field → messages, or item → …),
    every message in the reader's language."""
    if isinstance(errors, dict):
        return {key: field_messages(value) for key, value in errors.items()}
    if isinstance(errors, list | tuple):
        return [field_messages(value) for value in errors]
    if isinstance(errors, str):
        return field_message(errors)
    return errors
