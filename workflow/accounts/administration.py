"""User administration by a person (the console's user page): the admin role checked first,
then the same services as the ``riskloop user`` commands, plus a password reset. Every
change is on the user's audit stream; no password or hash is ever recorded.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from workflow.accounts import password_policy, users
from workflow.errors import Conflict, Forbidden, ValidationFailed
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import Token, User

ADMIN_ROLE = "admin"


def require_admin(actor: Actor) -> None:
    """Raises:
    Forbidden: the actor does not hold the admin role."""
    if ADMIN_ROLE not in actor.roles:
        raise Forbidden(
            "administering users needs the role admin",
            rule="role",
            code="role.required",
            params={"roles": [ADMIN_ROLE]},
        )


def list_users(session: Session, actor: Actor) -> list[User]:
    require_admin(actor)
    return list(session.execute(select(User).order_by(User.username)).scalars())


def create(
    session: Session,
    actor: Actor,
    username: str,
    password: str,
    roles: list[str],
    display_name: str = "",
) -> User:
    """Raises: Forbidden; ValidationFailed (username, password, roles); Duplicate."""
    require_admin(actor)
    return users.create_user(
        session, username, password, roles, by=actor, display_name=display_name
    )


def set_roles(session: Session, actor: Actor, username: str, roles: list[str]) -> User:
    """Raises: Forbidden; NotFound; ValidationFailed (roles)."""
    require_admin(actor)
    return users.set_roles(session, username, roles, by=actor)


def set_active(session: Session, actor: Actor, username: str, active: bool) -> User:
    """Raises:
    Forbidden: not an admin.
    Conflict: an admin deactivating themselves (someone must be left to undo it).
    NotFound: no such user."""
    require_admin(actor)
    if not active and username == actor.username:
        raise Conflict(
            "you cannot deactivate yourself; another admin can",
            code="user.self_deactivation",
        )
    return users.set_active(session, username, active, by=actor)


def reset_password(session: Session, actor: Actor, username: str, password: str) -> User:
    """Set a new password chosen by the admin: every token of the user is revoked and every
    console session ended, so only the new password signs in.

    Raises:
        Forbidden: not an admin.
        NotFound: no such user.
        ValidationFailed: the password is too weak (``password``).
    """
    require_admin(actor)
    user = users.get_user(session, username)
    weak = password_policy.problems(password, username, hints=[user.display_name, user.email])
    if weak:
        raise ValidationFailed("the password is too weak", errors={"password": weak})
    user.password_hash = users.hash_password(password)
    users.end_console_sessions(session, user)
    result = session.execute(
        update(Token).where(Token.user_id == user.id, Token.revoked.is_(False)).values(revoked=True)
    )
    audit.record_event(
        session,
        users.user_stream(username),
        "user.password_reset",
        actor,
        payload={"tokens_revoked": int(getattr(result, "rowcount", 0) or 0)},
    )
    return user
