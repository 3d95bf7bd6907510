"""Who may call an operation, decided before anything reads what the request carries:
roles are checked before bodies are validated.

Every operation of the API declares with ``@allow(check)`` the engine's own check of
whether the caller may call it at all: the roles it needs and, for a record in its path,
whether the caller may see that record and act on it (a client is looked up and its
owner compared, a case goes through the case visibility rule). The services run the same
function first, so the rule lives in one place. :func:`authorize_request` runs it after
authentication and before the request's shape is looked at (``api.request_shape``) or
its body and query are loaded (``@blp.arguments``): a caller who may not act is told 401,
403 or 404 whatever the body and the query say, never the 400, 415 or 422 that would
describe what the operation takes. An operation without a declaration stops the app at
start-up.

A check takes any of ``session``, ``actor`` and the path's parameters by name and raises
the engine's error (``Forbidden``, ``NotFound`` …) to refuse. A check that takes
``credential`` instead of ``actor`` is given the request's bearer token unresolved (a
``TokenCredential``) and authenticates the caller itself, in the statement it runs anyway
(firing an action: the case's row lock); the blueprint's authentication then leaves it
to the check, which must set ``g.actor``. A missing token is still a 401 first.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask
from flask_smorest import Blueprint as DocumentedBlueprint

from workflow.accounts.users import TokenCredential
from workflow.records.identity import Actor

from .contexts import this_app, this_request
from .extensions import db
from .security import bearer_token, current_actor

F = TypeVar("F", bound=Callable[..., Any])
Check = Callable[..., Any]
_ATTRIBUTE = "_riskloop_allow"
_SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def public() -> None:
    """No sign-in: the operation is its own credential (sign-in, the signed webhook)."""


def signed_in(actor: Actor) -> None:
    """Any signed-in caller (``actor`` is read, so no one else gets past); what each one
    sees is the service's business (lists, inboxes)."""


def allow(check: Check) -> Callable[[F], F]:
    """Declare the check that decides whether the caller may call the decorated operation."""
    accepted = _parameters(check)

    def declare(view: F) -> F:
        setattr(view, _ATTRIBUTE, (check, accepted))
        return view

    return declare


def _parameters(check: Check) -> frozenset[str] | None:
    """The keyword names ``check`` takes; None: it takes any (``**kwargs``)."""
    parameters = inspect.signature(check).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return frozenset(
        p.name
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    )


def _declared(view_function: Any, method: str) -> tuple[Check, frozenset[str] | None] | None:
    view_class = getattr(view_function, "view_class", None)
    func = getattr(view_class, method.lower(), None) if view_class is not None else view_function
    return getattr(func, _ATTRIBUTE, None)


def authorize_request() -> None:
    """Raises: whatever the operation's check raises (``Forbidden``, ``NotFound`` …)."""
    req = this_request()
    rule = req.url_rule
    if rule is None or req.method == "OPTIONS":
        return
    method = "GET" if req.method == "HEAD" else req.method
    declared = _declared_for(rule.endpoint, method)
    if declared is None:  # install() refuses to start without one: never reached
        raise RuntimeError(f"{method} {rule.rule} declares no authorisation")
    check, accepted = declared
    if check is public:
        return
    # the request's session itself, not the scoped proxy that looks it up on every use
    offered: dict[str, Any] = {"session": db.session(), **(req.view_args or {})}
    if accepted is not None and "credential" in accepted:
        offered["credential"] = TokenCredential(bearer_token())
    elif accepted is None or "actor" in accepted:
        offered["actor"] = current_actor()
    check(**{k: v for k, v in offered.items() if accepted is None or k in accepted})


def authenticates_itself() -> bool:
    """Whether the request's operation declares a check that takes the ``credential``
    (``api.security`` then leaves authentication to it)."""
    req = this_request()
    if req.url_rule is None or req.method == "OPTIONS":
        return False
    return _takes_credential(req.url_rule.endpoint, req.method)


def _takes_credential(endpoint: str, method: str) -> bool:
    declared = _declared_for(endpoint, method)
    return declared is not None and declared[1] is not None and "credential" in declared[1]


_TABLE = "riskloop.authorization"


def _declared_for(endpoint: str, method: str) -> tuple[Check, frozenset[str] | None] | None:
    """The check an operation declares: from the table :func:`install` built, else
    looked up on its view."""
    app = this_app()
    table = app.extensions.get(_TABLE)
    if table is not None:
        found = table.get((endpoint, method), _UNKNOWN)
        if found is not _UNKNOWN:
            return found  # type: ignore[no-any-return]
    return _declared(app.view_functions.get(endpoint), method)


_UNKNOWN = object()


def undeclared(app: Flask) -> list[str]:
    """The documented operations (``METHOD /rule``) that declare no check."""
    missing = []
    for rule in app.url_map.iter_rules():
        blueprint = app.blueprints.get(rule.endpoint.rpartition(".")[0])
        if not isinstance(blueprint, DocumentedBlueprint):
            continue
        for method in sorted((rule.methods or set()) - _SKIPPED_METHODS):
            if _declared(app.view_functions[rule.endpoint], method) is None:
                missing.append(f"{method} {rule.rule}")
    return missing


def install(app: Flask) -> None:
    """Run :func:`authorize_request` on every operation of the API's blueprints, after the
    blueprint's own hooks (authentication: 401 first) and before ``api.request_shape``.

    Raises:
        RuntimeError: an operation declares no check (add ``@allow(...)`` to it).
    """
    missing = undeclared(app)
    if missing:
        raise RuntimeError(
            "every API operation declares who may call it; add @allow(...) "
            f"(api.authorization) to: {', '.join(missing)}"
        )
    # Each operation's declaration, read once here instead of on every request.
    app.extensions[_TABLE] = {
        (rule.endpoint, method): _declared(app.view_functions.get(rule.endpoint), method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
    }
    for name, blueprint in app.blueprints.items():
        if isinstance(blueprint, DocumentedBlueprint):
            app.before_request_funcs.setdefault(name, []).append(authorize_request)
