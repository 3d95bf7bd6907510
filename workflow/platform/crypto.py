"""Field encryption at rest with key rotation (Fernet: AES-128-CBC + HMAC-SHA256).

Keys come from ``RISKLOOP_ENCRYPTION_KEYS``: comma-separated Fernet keys, the
first encrypts, all decrypt. To rotate, put a new key first, keep the old ones
until every stored value has been passed through :meth:`FieldCipher.rotate`,
then drop them.

Ciphertext is randomised, so an encrypted column cannot be searched or
compared in SQL; add a keyed-hash (HMAC) "blind index" column where a lookup
is needed.
"""

from __future__ import annotations

import json
import weakref
from decimal import Decimal
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import Session
from sqlalchemy.types import Text, TypeDecorator

from workflow.errors import ConfigurationError

ENV_VAR = "RISKLOOP_ENCRYPTION_KEYS"

_GENERATE_HINT = 'generate one with: python -c "from workflow.platform.crypto import generate_key; print(generate_key())"'


class EncryptionKeyError(ConfigurationError, ValueError):
    """Raised when RISKLOOP_ENCRYPTION_KEYS is missing, empty or holds a malformed key."""


class CipherNotConfigured(ConfigurationError, RuntimeError):
    """Raised when an encrypted value is read or written through a database engine that
    no cipher was attached to (attach_cipher)."""


class DecryptionFailed(ConfigurationError, ValueError):
    """Raised when a stored token was made with none of the configured keys, or is corrupt."""


def generate_key() -> str:
    """A new random Fernet key (URL-safe base64 text)."""
    return Fernet.generate_key().decode("ascii")


def parse_keys(value: str | None) -> list[str]:
    """Split a ``RISKLOOP_ENCRYPTION_KEYS`` value into keys, newest first; blanks are dropped."""
    if not value:
        return []
    return [key.strip() for key in value.split(",") if key.strip()]


class FieldCipher:
    """Encrypts with the first key; decrypts with any of them."""

    def __init__(self, keys: list[str]) -> None:
        """Build from Fernet keys, newest first.

        Raises:
            EncryptionKeyError: no keys, or a key that is not a valid Fernet key.
        """
        if isinstance(keys, str):
            # A bare string would be iterated character by character.
            keys = parse_keys(keys)
        if not keys:
            raise EncryptionKeyError(
                f"no encryption key configured: set {ENV_VAR} to one or more "
                f"comma-separated Fernet keys; {_GENERATE_HINT}"
            )
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError) as exc:
                # Never echo the key itself: it may be a real secret with a typo.
                raise EncryptionKeyError(
                    f"key {position} of {len(keys)} in {ENV_VAR} is not a valid Fernet key "
                    f"(32 bytes, URL-safe base64); {_GENERATE_HINT}"
                ) from exc
        self._current = fernets[0]
        self._all = MultiFernet(fernets)
        self.key_count = len(fernets)

    def encrypt(self, plaintext: str) -> str:
        """Encrypt ``plaintext`` under the newest key.

        Raises:
            TypeError: ``plaintext`` is not a string.
        """
        if not isinstance(plaintext, str):
            raise TypeError(f"can only encrypt text, got {type(plaintext).__name__}")
        return self._current.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        """Decrypt a token made with any configured key.

        Raises:
            DecryptionFailed: no configured key opens the token, or it is corrupt.
        """
        try:
            return self._all.decrypt(_as_bytes(token)).decode("utf-8")
        except InvalidToken as exc:
            raise DecryptionFailed(_decrypt_hint()) from exc

    def rotate(self, token: str) -> str:
        """Re-encrypt a token under the newest key.

        Raises:
            DecryptionFailed: no configured key opens the token, or it is corrupt.
        """
        try:
            return self._all.rotate(_as_bytes(token)).decode("ascii")
        except InvalidToken as exc:
            raise DecryptionFailed(_decrypt_hint()) from exc

    def is_current(self, token: str) -> bool:
        """True when ``token`` opens with the newest key, i.e. needs no rotation."""
        # Fernet tokens carry no key id; trying the newest key is the only way to tell.
        try:
            self._current.decrypt(_as_bytes(token))
        except (InvalidToken, DecryptionFailed):
            return False
        return True

    def __repr__(self) -> str:
        return f"FieldCipher(keys={self.key_count})"


def _as_bytes(token: str) -> bytes:
    if isinstance(token, bytes):
        return token
    if not isinstance(token, str):
        raise TypeError(f"a token is text, got {type(token).__name__}")
    try:
        return token.encode("ascii")
    except UnicodeEncodeError as exc:
        raise DecryptionFailed("not an encrypted value: tokens are ASCII text") from exc


def _decrypt_hint() -> str:
    return (
        f"cannot decrypt a stored value: none of the keys in {ENV_VAR} opens it, or it is "
        "corrupt; if keys were rotated, put the old key back after the new one"
    )


# The cipher of each database engine, keyed by the engine's dialect: the column types
# below are given only the dialect. Attached by the composition root, per engine (two
# apps or tests with different keys in one process do not share one).
_ciphers: weakref.WeakKeyDictionary[Dialect, FieldCipher] = weakref.WeakKeyDictionary()


def attach_cipher(engine: Engine, cipher: FieldCipher) -> FieldCipher:
    """Make :class:`EncryptedString` and :class:`EncryptedJSON` columns read and written
    through ``engine`` use ``cipher`` (replacing any cipher attached before)."""
    _ciphers[engine.dialect] = cipher
    return cipher


def cipher_of(dialect: Dialect) -> FieldCipher:
    """The cipher attached to the engine of ``dialect``.

    Raises:
        CipherNotConfigured: no cipher is attached to that engine.
    """
    cipher = _ciphers.get(dialect)
    if cipher is None:
        raise CipherNotConfigured(
            "field encryption is not configured for this database engine: call "
            "workflow.platform.crypto.attach_cipher(engine, "
            f"FieldCipher(parse_keys(os.environ['{ENV_VAR}']))) at start-up "
            "(the app factory and the worker entry point do this)"
        )
    return cipher


def session_cipher(session: Session) -> FieldCipher:
    """The cipher of the database engine ``session`` is bound to.

    Raises:
        CipherNotConfigured: no cipher is attached to that engine.
    """
    return cipher_of(session.get_bind().dialect)


class EncryptedString(TypeDecorator[str]):
    """A text column stored encrypted; None stays NULL. Not searchable or comparable in SQL."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return cipher_of(dialect).encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return cipher_of(dialect).decrypt(value)


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON value (e.g. a contacts list with phones) stored encrypted; None stays NULL.

    Mutating the loaded object in place is not detected; assign a new value.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return cipher_of(dialect).encrypt(text)

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(cipher_of(dialect).decrypt(value))


_CENTS = Decimal("0.01")


class EncryptedDecimal(TypeDecorator[Decimal]):
    """An amount (e.g. registered capital, a credit limit) stored encrypted; None stays NULL.

    Not comparable or sortable in SQL: filter and sort such amounts in Python.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(
        self, value: Decimal | float | int | None, dialect: Dialect
    ) -> str | None:
        if value is None:
            return None
        # Two decimal places, as the NUMERIC(20, 2) columns these replace stored them.
        return cipher_of(dialect).encrypt(str(Decimal(str(value)).quantize(_CENTS)))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(cipher_of(dialect).decrypt(value))


# Column types whose stored tokens are made with the master keys (rotated by key rotation).
MASTER_KEY_TYPES: tuple[type[TypeDecorator[Any]], ...] = (
    EncryptedString,
    EncryptedJSON,
    EncryptedDecimal,
)
