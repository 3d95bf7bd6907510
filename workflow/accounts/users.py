"""Users, roles, password checks and bearer tokens.

argon2id costs ~200 ms a hash, so it runs only at login; a bearer token is a
random secret of which only the SHA-256 is stored, checked with one indexed read.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflow.engine.definitions import ROLES
from workflow.errors import AuthenticationFailed, Duplicate, NotFound, ValidationFailed
from workflow.platform import clock
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import LoginFailure, Token, User

_hasher = PasswordHasher()


def set_hash_cost(*, time_cost: int, memory_cost: int) -> None:
    """Tune argon2 (tests use a cheap setting; production keeps the library's defaults)."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=1)
    _DUMMY_HASH = _hasher.hash("riskloop-dummy-password")  # same cost as real hashes

USER_ROLES = ROLES - {"system"}
MIN_PASSWORD = 8
LOCK_AFTER = 5
LOCK_FOR = timedelta(minutes=15)
# Compared against when the username does not exist, so timing does not reveal it.
_DUMMY_HASH = _hasher.hash("riskloop-dummy-password")


def user_stream(username: str) -> str:
    return f"user:{username}"


def actor_of(user: User) -> Actor:
    return Actor(user.username, frozenset(user.roles or []), user.id)


def create_user(session: Session, username: str, password: str, roles: list[str], *,
                by: Actor, display_name: str = "", email: str | None = None) -> User:
    """Raises:
        ValidationFailed: bad username, password or role.
        Duplicate: the username is taken."""
    errors: dict[str, list[str]] = {}
    if not username or len(username) > 64 or not username.replace("_", "").replace(".", "").replace("-", "").isalnum():
        errors["username"] = ["Use 1-64 letters, digits, '.', '_' or '-'."]
    if len(password) < MIN_PASSWORD:
        errors["password"] = [f"Use at least {MIN_PASSWORD} characters."]
    unknown = [r for r in roles if r not in USER_ROLES]
    if not roles or unknown:
        errors["roles"] = [f"Give one or more of: {', '.join(sorted(USER_ROLES))}."]
    if errors:
        raise ValidationFailed("the user is invalid", errors=errors)
    if session.execute(select(User.id).where(User.username == username)).first():
        raise Duplicate(f"user {username!r} already exists")
    user = User(username=username, password_hash=_hasher.hash(password), roles=sorted(set(roles)),
                display_name=display_name or username, email=email, active=True,
                failed_logins=0, created_at=clock.now())
    session.add(user)
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    session.flush()
    audit.record_event(session, user_stream(username), "user.created", by,
                       payload={"username": username, "roles": user.roles})
    return user


def set_roles(session: Session, username: str, roles: list[str], *, by: Actor) -> User:
    user = get_user(session, username)
    unknown = [r for r in roles if r not in USER_ROLES]
    if not roles or unknown:
        raise ValidationFailed("the roles are invalid",
                               errors={"roles": [f"Give one or more of: {', '.join(sorted(USER_ROLES))}."]})
    before = list(user.roles)
    user.roles = sorted(set(roles))
    audit.record_event(session, user_stream(username), "user.roles_changed", by,
                       payload={"before": before, "after": user.roles})
    return user


def get_user(session: Session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"user {username!r} does not exist")
    return user


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime
    user: User


def login(session: Session, username: str, password: str, *, ttl: timedelta,
          source: str | None = None) -> IssuedToken:
    """Check a password and issue a bearer token; every attempt is audited.

    A username no user has fails, counts and locks exactly as a real account does
    (same message, status and one argon2 verification), so neither the answers nor
    their timing tell which accounts exist.

    Raises:
        AuthenticationFailed: wrong credentials, inactive or locked account.
    """
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    now = clock.now()
    anonymous = Actor(f"anonymous:{username[:32]}", frozenset())
    counter: User | LoginFailure
    if user is None:
        counter = _unknown_username(session, username)
        _verify(_DUMMY_HASH, password)
        right = False
        stream = "system:logins"
        about: dict[str, Any] = {"username": username[:64], "reason": "unknown user"}
    else:
        counter = user
        right = _verify(user.password_hash, password) and bool(user.active)
        stream = user_stream(user.username)
        about = {}
    if counter.locked_until and counter.locked_until <= now:
        # The lock has run out: a fresh count, so one typo after it does not lock again.
        counter.failed_logins = 0
        counter.locked_until = None
    if counter.locked_until and counter.locked_until > now:
        audit.record_event(session, stream, "login.failed", anonymous,
                           payload={**about, "source": source, "reason": "locked"})
        raise AuthenticationFailed("too many failed attempts; the account is locked for a while",
                                   retry_after=int((counter.locked_until - now).total_seconds()))
    if not right or user is None:
        counter.failed_logins = (counter.failed_logins or 0) + 1
        if counter.failed_logins >= LOCK_AFTER:
            counter.locked_until = now + LOCK_FOR
        if isinstance(counter, LoginFailure):
            counter.last_failed_at = now
        audit.record_event(session, stream, "login.failed", anonymous,
                           payload={**about, "source": source, "failed_logins": counter.failed_logins})
        raise AuthenticationFailed("wrong username or password")
    user.failed_logins = 0
    user.locked_until = None
    raw = secrets.token_urlsafe(32)
    expires = now + ttl
    session.add(Token(token_hash=hash_token(raw), user_id=user.id, created_at=now, expires_at=expires))
    audit.record_event(session, user_stream(user.username), "login.succeeded", actor_of(user),
                       payload={"source": source, "expires_at": clock.isoformat(expires)})
    return IssuedToken(raw, expires, user)


def _unknown_username(session: Session, username: str) -> LoginFailure:
    """The failure counter of a username no user has, locked (created on its first failure;
    no user row is made)."""
    key = username[:64]
    query = select(LoginFailure).where(LoginFailure.username == key).with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        try:
            with session.begin_nested():
                row = LoginFailure(username=key, failed_logins=0, last_failed_at=clock.now())
                session.add(row)
        except IntegrityError:  # a concurrent attempt created it first
            row = session.execute(query).scalar_one()
    return row


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
    # Plain columns on the session's connection (a Core statement, not the ORM's
    # execution path): this runs on every API request.
    row = session.connection().execute(_RESOLVE, {"token_hash": hash_token(raw)}).first()
    if row is None:
        raise AuthenticationFailed("the bearer token is not valid; get one from POST /api/v1/auth/token")
    if row.revoked or row.expires_at <= clock.now() or not row.active:
        raise AuthenticationFailed("the bearer token has expired; get a new one from POST /api/v1/auth/token")
    return Actor(row.username, frozenset(row.roles or []), row.id)


_RESOLVE = (
    select(Token.revoked, Token.expires_at, User.id, User.username, User.roles, User.active)
    .join(User, User.id == Token.user_id)
    .where(Token.token_hash == bindparam("token_hash"))
)


def prune_login_failures(session: Session, now: datetime | None = None) -> int:
    """Forget failure counts under unknown usernames that are neither locked nor recent
    (older than a lock period); returns how many were removed."""
    now = now or clock.now()
    result = session.execute(
        delete(LoginFailure).where(
            LoginFailure.last_failed_at < now - LOCK_FOR,
            (LoginFailure.locked_until.is_(None)) | (LoginFailure.locked_until < now),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
