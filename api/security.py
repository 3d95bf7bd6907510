"""Bearer-token authentication for the API; the engine does the authorising."""

from __future__ import annotations

from flask import Blueprint

from workflow.accounts import users as accounts
from workflow.errors import AuthenticationFailed
from workflow.records.identity import Actor

from .contexts import this_g, this_request
from .extensions import db

BEARER = {"bearerAuth": []}


def current_actor() -> Actor:
    actor = this_g().get("actor")
    if actor is None:
        raise AuthenticationFailed(
            "sign in first: POST /api/v1/auth/token, then send 'Authorization: Bearer <token>'"
        )
    return actor


def bearer_token() -> str:
    """The token of the ``Authorization: Bearer`` header.

    Raises:
        AuthenticationFailed: no bearer token sent."""
    header = this_request().headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed(
            "missing bearer token; send 'Authorization: Bearer <token>' "
            "(get one from POST /api/v1/auth/token)"
        )
    return token.strip()


def authenticate_request() -> None:
    from .authorization import authenticates_itself  # it builds on this module

    if authenticates_itself():
        return  # the operation's check resolves the token in its own statement
    this_g().actor = accounts.resolve_token(db.session, bearer_token())


def protect(blueprint: Blueprint) -> Blueprint:
    """Require a valid bearer token on every route of ``blueprint``."""
    blueprint.before_request(authenticate_request)
    return blueprint


def require_roles(actor: Actor, roles: set[str], what: str) -> None:
    from workflow.errors import Forbidden

    if not actor.has_any(roles):
        raise Forbidden(f"{what} needs one of the roles {', '.join(sorted(roles))}", rule="role")
