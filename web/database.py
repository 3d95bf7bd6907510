"""The database of the app the console is mounted on, reached through ``current_app``.

The console builds no Flask extension of its own: the composition root
(``api.create_app``) initialises Flask-SQLAlchemy on the shared declarative base and then
registers the console, which uses whatever the app holds. That keeps the arrow one way:
``api`` imports ``web``, never the reverse.
"""

from __future__ import annotations

from flask import current_app
from flask_sqlalchemy import SQLAlchemy
from werkzeug.local import LocalProxy

from workflow.engine.runtime import Runtime


def _app_database() -> SQLAlchemy:
    try:
        return current_app.extensions["sqlalchemy"]  # type: ignore[no-any-return]
    except KeyError:
        raise RuntimeError(
            "The console needs Flask-SQLAlchemy on its app. To solve this, build the app with "
            "api.create_app(), which initialises the database before registering the console."
        ) from None


db: SQLAlchemy = LocalProxy(_app_database)  # type: ignore[assignment]


def runtime_of() -> Runtime:
    """The engine object of the app the console is mounted on, built by ``create_app``."""
    try:
        found: Runtime = current_app.extensions["riskloop"]["runtime"]
    except KeyError:
        raise RuntimeError(
            "The console needs riskloop's engine object on its app. To solve this, build the "
            "app with api.create_app(), which builds it before registering the console."
        ) from None
    return found
