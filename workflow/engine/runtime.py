"""The engine object: everything that decides the engine's behaviour, built once by the
composition root (``api.create_app``, the CLI, the worker, a test, an example) and
handed to what needs it.

There is no process-wide instance. Code that holds a SQLAlchemy ``Session`` reaches
the engine object through the session: :meth:`Runtime.bind` makes a session factory
put it in ``Session.info`` (:data:`SESSION_KEY`), and :func:`of` reads it back. Code
without a session (the Flask app, the Dramatiq middleware, the CLI) is given the
object itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from workflow.engine.catalog import Catalog
from workflow.engine.policy import RolePolicy
from workflow.engine.registry import Registry
from workflow.platform.crypto import FieldCipher
from workflow.platform.db import RUNTIME_KEY
from workflow.records.outbox import Sender

SESSION_KEY = RUNTIME_KEY

# fn(code, params, language) -> the text of ``code`` in ``language`` (None: code unknown)
Wording = Callable[[str, dict[str, Any], str], "str | None"]


@dataclass(eq=False)
class Runtime:
    """One engine: its catalog (definitions, registry, role policy), settings, the
    field cipher, the outbox sender (set when a broker's actor is declared), the
    session factory whose sessions carry it, and the wording of text codes in a
    language for texts pushed out of the app (mail, group robots), set by the
    composition root from the console's catalogue; without it they go out in English."""

    catalog: Catalog
    settings: dict[str, Any] = field(default_factory=dict)
    cipher: FieldCipher | None = None
    outbox_sender: Sender | None = None
    session_factory: sessionmaker[Session] | None = None
    wording: Wording | None = None

    @property
    def registry(self) -> Registry:
        return self.catalog.registry

    @property
    def policy(self) -> RolePolicy:
        return self.catalog.policy

    def setting(self, name: str, default: Any = None) -> Any:
        return self.settings.get(name, default)

    def word(self, code: str, params: dict[str, Any], language: str) -> str | None:
        """``code`` with ``params`` in ``language`` (``zh-CN``/``en``); None when no
        wording is set or it does not know the code (the caller keeps its English)."""
        if self.wording is None:
            return None
        return self.wording(code, params, language)

    def bind(self, factory: sessionmaker[Session]) -> sessionmaker[Session]:
        """Make every session of ``factory`` carry this engine object; it becomes
        :attr:`session_factory`."""
        info = dict(factory.kw.get("info") or {})
        info[SESSION_KEY] = self
        factory.configure(info=info)
        self.session_factory = factory
        return factory

    def session(self) -> Session:
        """A new session of :attr:`session_factory`.

        Raises:
            RuntimeError: no factory is bound.
        """
        if self.session_factory is None:
            raise RuntimeError("this riskloop runtime has no session factory; call bind() first")
        return self.session_factory()


def of(session: Session) -> Runtime:
    """The engine object ``session`` was made for.

    Raises:
        RuntimeError: the session's factory was not bound to a runtime.
    """
    found = session.info.get(SESSION_KEY)
    if not isinstance(found, Runtime):
        raise RuntimeError(
            "this session carries no riskloop runtime: make sessions with a factory bound by "
            "Runtime.bind(sessionmaker(...)) (the app factory and the test fixtures do this)"
        )
    return found
