"""Flask extensions, created unbound and initialised by the app factory."""

from __future__ import annotations

from typing import Any

from flask import Flask, has_app_context
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession

from workflow.engine.runtime import SESSION_KEY, Runtime
from workflow.platform.db import Base
from workflow.platform.lean import LeanTransactions

from .contexts import this_app


def runtime_of(app: Flask | None = None) -> Runtime:
    """The engine object of ``app`` (default: the current app), built by ``create_app``."""
    found: Runtime = (app or this_app()).extensions["riskloop"]["runtime"]
    return found


class RuntimeSession(LeanTransactions, FlaskSession):
    """``db.session``: like the engine object's own sessions, it carries the app's engine
    object in ``info`` (``workflow.engine.runtime.of(session)``), and a transaction that
    does not use the ORM is a lean one (``workflow.platform.lean``)."""

    def __init__(self, db: SQLAlchemy, **kwargs: Any) -> None:
        super().__init__(db, **kwargs)
        if has_app_context():
            riskloop = this_app().extensions.get("riskloop")
            if riskloop is not None:
                self.info[SESSION_KEY] = riskloop["runtime"]


db = SQLAlchemy(model_class=Base, session_options={"class_": RuntimeSession})
migrate = Migrate()
api = Api()
