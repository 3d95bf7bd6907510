"""Users, roles, password checks and bearer tokens.

argon2id costs ~200 ms a hash, so it runs only at login; a bearer token is a
random secret of which only the SHA-256 is stored, checked with one indexed read.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from workflow.accounts import login_throttle, password_policy
from workflow.accounts.login_throttle import ACCOUNT_LOCK_AFTER as ACCOUNT_LOCK_AFTER
from workflow.accounts.login_throttle import LOCK_AFTER as LOCK_AFTER
from workflow.accounts.login_throttle import LOCK_FOR as LOCK_FOR
from workflow.engine import runtime
from workflow.errors import AuthenticationFailed, Duplicate, NotFound, ValidationFailed
from workflow.platform import clock, driver, lean
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import Token, User

_hasher = PasswordHasher()


def set_hash_cost(*, time_cost: int, memory_cost: int) -> None:
    """Tune argon2 (tests use a cheap setting; production keeps the library's defaults)."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=1)
    _DUMMY_HASH = _hasher.hash("riskloop-dummy-password")  # same cost as real hashes


# Compared against when the username does not exist, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash("riskloop-dummy-password")


def hash_password(password: str) -> str:
    """The argon2 hash stored for ``password``."""
    return _hasher.hash(password)


def user_stream(username: str) -> str:
    return f"user:{username}"


def actor_of(user: User) -> Actor:
    return Actor(user.username, frozenset(user.roles or []), user.id)


def create_user(
    session: Session,
    username: str,
    password: str,
    roles: list[str],
    *,
    by: Actor,
    display_name: str = "",
    email: str | None = None,
) -> User:
    """Raises:
    ValidationFailed: bad username, password or role.
    Duplicate: the username is taken."""
    errors: dict[str, list[str]] = {}
    if (
        not username
        or len(username) > 64
        or not username.replace("_", "").replace(".", "").replace("-", "").isalnum()
    ):
        errors["username"] = ["Use 1-64 letters, digits, '.', '_' or '-'."]
    weak = password_policy.problems(password, username, hints=[display_name, email])
    if weak:
        errors["password"] = weak
    user_roles = runtime.of(session).policy.user_roles
    unknown = [r for r in roles if r not in user_roles]
    if not roles or unknown:
        errors["roles"] = [f"Give one or more of: {', '.join(sorted(user_roles))}."]
    if errors:
        raise ValidationFailed("the user is invalid", errors=errors)
    if session.execute(select(User.id).where(User.username == username)).first():
        raise Duplicate(f"user {username!r} already exists")
    user = User(
        username=username,
        password_hash=hash_password(password),
        roles=sorted(set(roles)),
        display_name=display_name or username,
        email=email,
        active=True,
        created_at=clock.now(),
        session_epoch=0,
    )
    session.add(user)
    login_throttle.forget_username(session, username)
    session.flush()
    audit.record_event(
        session,
        user_stream(username),
        "user.created",
        by,
        payload={"username": username, "roles": user.roles},
    )
    return user


def set_roles(session: Session, username: str, roles: list[str], *, by: Actor) -> User:
    user = get_user(session, username)
    user_roles = runtime.of(session).policy.user_roles
    unknown = [r for r in roles if r not in user_roles]
    if not roles or unknown:
        raise ValidationFailed(
            "the roles are invalid",
            errors={"roles": [f"Give one or more of: {', '.join(sorted(user_roles))}."]},
        )
    before = list(user.roles)
    user.roles = sorted(set(roles))
    end_console_sessions(session, user)
    audit.record_event(
        session,
        user_stream(username),
        "user.roles_changed",
        by,
        payload={"before": before, "after": user.roles},
    )
    return user


def get_user(session: Session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"user {username!r} does not exist")
    return user


def set_active(session: Session, username: str, active: bool, *, by: Actor) -> User:
    """Deactivate (or reactivate) a user. Deactivation revokes every bearer token and
    ends every console session of the user, so reactivating revives neither.

    Raises:
        NotFound: no such user."""
    user = get_user(session, username)
    if bool(user.active) == active:
        return user
    user.active = active
    end_console_sessions(session, user)
    revoked = 0
    if not active:
        result = session.execute(
            update(Token)
            .where(Token.user_id == user.id, Token.revoked.is_(False))
            .values(revoked=True)
        )
        revoked = int(getattr(result, "rowcount", 0) or 0)
    audit.record_event(
        session,
        user_stream(username),
        "user.deactivated" if not active else "user.reactivated",
        by,
        payload={"tokens_revoked": revoked} if not active else {},
    )
    return user


def end_console_sessions(session: Session, user: User) -> None:
    """Console cookies carry the epoch they were issued under; a new one refuses them all."""
    user.session_epoch = User.session_epoch + 1  # type: ignore[assignment]  # in SQL: no lost update
    session.flush()  # the attribute is read back from the row when next used


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    user: User


@dataclass(frozen=True)
class ConsoleSignIn:
    user: User
    expires_at: datetime


def login(
    session: Session, username: str, password: str, *, ttl: timedelta, source: str | None = None
) -> IssuedToken:
    """Check a password and issue a bearer token (the API's sign-in).

    Raises:
        AuthenticationFailed: wrong credentials, inactive user, or locked out
            (``retry_after`` set; see :mod:`workflow.accounts.login_throttle`).
    """
    user = _authenticate(session, username, password, source)
    raw = secrets.token_urlsafe(32)
    expires = clock.now() + ttl
    session.add(
        Token(
            token_hash=hash_token(raw), user_id=user.id, created_at=clock.now(), expires_at=expires
        )
    )
    audit.record_event(
        session,
        user_stream(user.username),
        "login.succeeded",
        actor_of(user),
        payload={"source": source, "channel": "api", "expires_at": clock.isoformat(expires)},
    )
    return IssuedToken(raw, expires, user)


def sign_in(
    session: Session, username: str, password: str, *, ttl: timedelta, source: str | None = None
) -> ConsoleSignIn:
    """Check a password for a console session (kept in the console's signed cookie with
    the user's ``session_epoch``); no bearer token is issued.

    Raises:
        AuthenticationFailed: as :func:`login`.
    """
    user = _authenticate(session, username, password, source)
    expires = clock.now() + ttl
    audit.record_event(
        session,
        user_stream(user.username),
        "login.succeeded",
        actor_of(user),
        payload={"source": source, "channel": "console", "expires_at": clock.isoformat(expires)},
    )
    return ConsoleSignIn(user, expires)


def sign_out(session: Session, user: User) -> None:
    """End every console session of ``user`` (a replayed cookie is refused from now on)."""
    end_console_sessions(session, user)
    audit.record_event(
        session,
        user_stream(user.username),
        "user.signed_out",
        actor_of(user),
        payload={"channel": "console"},
    )


def _authenticate(session: Session, username: str, password: str, source: str | None) -> User:
    """The user whose password this is; every failure is audited and counted.

    A username no user has fails, counts and locks exactly as a real account does
    (same message, status and one argon2 verification), so neither the answers nor
    their timing tell which accounts exist.

    Raises:
        AuthenticationFailed: wrong credentials, inactive user or locked out.
    """
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    now = clock.now()
    anonymous = Actor(f"anonymous:{username[:32]}", frozenset())
    if user is None:
        _verify(_DUMMY_HASH, password)
        right = False
        stream = "system:logins"
        about: dict[str, Any] = {"username": username[:64], "reason": "unknown user"}
    else:
        right = _verify(user.password_hash, password) and bool(user.active)
        stream = user_stream(user.username)
        about = {}
    wait = login_throttle.retry_after(session, username, source, now)
    if wait is not None:
        audit.record_event(
            session,
            stream,
            "login.failed",
            anonymous,
            payload={**about, "source": source, "reason": "locked"},
        )
        raise AuthenticationFailed(
            "too many failed attempts; the account is locked for a while", retry_after=wait
        )
    if not right or user is None:
        count = login_throttle.record_failure(session, username, source, now)
        audit.record_event(
            session,
            stream,
            "login.failed",
            anonymous,
            payload={**about, "source": source, "failed_logins": count},
        )
        raise AuthenticationFailed("wrong username or password")
    login_throttle.clear(session, username, source)
    return user


# The languages riskloop writes in (mail, the digest, group robots), as YAML labels key them.
LANGUAGES = ("zh-CN", "en")


def set_language(session: Session, user: User, language: str) -> None:
    """Remember the language ``user`` reads in (chosen in the console): mail and the digest
    to them are worded in it.

    Raises:
        ValidationFailed: not one of :data:`LANGUAGES`.
    """
    if language not in LANGUAGES:
        raise ValidationFailed(
            "unknown language", errors={"language": [f"Use one of {', '.join(LANGUAGES)}."]}
        )
    user.language = language


def revoke_token(session: Session, raw: str) -> Actor:
    """Revoke a bearer token (its holder signing out); returns whose it was.

    Raises:
        AuthenticationFailed: unknown, revoked or expired token."""
    actor = resolve_token(session, raw)
    session.execute(update(Token).where(Token.token_hash == hash_token(raw)).values(revoked=True))
    audit.record_event(session, user_stream(actor.username), "token.revoked", actor, payload={})
    return actor


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def resolve_token(session: Session, raw: str) -> Actor:
    """Raises:
    AuthenticationFailed: unknown, revoked or expired token."""
    # Plain SQL on the driver's cursor (PostgreSQL) or a Core statement: this runs on
    # every API request, and the ORM's or even Core's execution path costs more Python
    # than the look-up itself.
    connection = lean.driver_connection(session)
    params = {"token_hash": hash_token(raw)}
    if driver.is_postgresql(connection):
        found = driver.rows(connection, _PG_RESOLVE, params)
        row = found[0] if found else None
    else:
        row = connection.execute(_RESOLVE, params).first()
    return _token_actor(row)


def _token_actor(row: Sequence[Any] | None) -> Actor:
    """The actor of a token's row (revoked, expires_at, user id, username, roles, active).

    Raises:
        AuthenticationFailed: no row, or a revoked, expired or deactivated one."""
    if row is None:
        raise AuthenticationFailed(
            "the bearer token is not valid; get one from POST /api/v1/auth/token"
        )
    revoked, expires_at, user_id, username, roles, active = row
    if revoked or expires_at <= clock.now() or not active:
        raise AuthenticationFailed(
            "the bearer token has expired; get a new one from POST /api/v1/auth/token"
        )
    return Actor(username, frozenset(roles or []), user_id)


@dataclass(frozen=True)
class TokenCredential:
    """A bearer token as the engine's ``Credential`` (``workflow.engine.writes``): checked
    in the statement that locks the case an action is fired on, instead of by a statement
    of its own before it. The same row, the same refusals as :func:`resolve_token`; a token
    that may not act locks nothing."""

    raw: str

    def pg_query(self) -> tuple[str, dict[str, Any]]:
        return _PG_CREDENTIAL, {"cred_token_hash": hash_token(self.raw), "cred_now": clock.now()}

    def actor_of(self, row: Sequence[Any] | None) -> Actor:
        """Raises: AuthenticationFailed, as :func:`resolve_token`."""
        return _token_actor(row[2:] if row is not None else None)

    def resolve(self, session: Session) -> Actor:
        return resolve_token(session, self.raw)


_TOKEN_COLUMNS = (
    "tokens.revoked, tokens.expires_at, users.id, users.username, users.roles, users.active"
)
_RESOLVE = (
    select(Token.revoked, Token.expires_at, User.id, User.username, User.roles, User.active)
    .join(User, User.id == Token.user_id)
    .where(Token.token_hash == bindparam("token_hash"))
)
_PG_RESOLVE = (
    f"SELECT {_TOKEN_COLUMNS} FROM tokens JOIN users ON users.id = tokens.user_id "
    "WHERE tokens.token_hash = %(token_hash)s"
)
# ok (the lock is taken only then), actor (its idempotency records' name), then the above
_PG_CREDENTIAL = (
    "SELECT (NOT tokens.revoked AND users.active AND tokens.expires_at > %(cred_now)s) AS ok, "
    f"users.username AS actor, {_TOKEN_COLUMNS} FROM tokens "
    "JOIN users ON users.id = tokens.user_id WHERE tokens.token_hash = %(cred_token_hash)s"
)


def prune_login_failures(session: Session, now: datetime | None = None) -> int:
    """Forget sign-in failure counts that are neither locked nor recent (the hourly job)."""
    return login_throttle.prune(session, now)
