"""Envelope encryption: one random data key per record, stored wrapped by the master keys.

A record's own fields are sealed with its :class:`DataKey`; the key itself is stored
in a :class:`WrappedKey` column, encrypted by the field cipher of
``RISKLOOP_ENCRYPTION_KEYS`` (so rotating the master keys re-wraps data keys and
never touches the sealed fields). Destroying the wrapped key makes every copy of the
record's sealed values unreadable at once, wherever they were copied to
(crypto-shredding).

Unwrapping costs one master-key decryption; unwrapped keys are cached per process
and cipher, bounded (:data:`CACHE_SIZE`), keyed by a digest of the wrapped token,
and dropped from the cache by :func:`forget` when a key is destroyed (other
processes keep theirs until evicted: they can no longer load the record's key).
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.engine import Dialect
from sqlalchemy.types import Text, TypeDecorator

from workflow.platform.crypto import DecryptionFailed, FieldCipher, cipher_of

CACHE_SIZE = 4096


class DataKey:
    """A record's own Fernet key: seals and opens that record's values."""

    __slots__ = ("_fernet", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._fernet = Fernet(text)

    @classmethod
    def generate(cls) -> DataKey:
        return cls(Fernet.generate_key().decode("ascii"))

    @property
    def text(self) -> str:
        """The key as Fernet text (only for wrapping it)."""
        return self._text

    def seal(self, plaintext: str) -> str:
        """``plaintext`` encrypted under this key (a Fernet token, ASCII text)."""
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str:
        """Raises:
        DecryptionFailed: the token was not sealed with this key, or is corrupt."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeEncodeError) as exc:
            raise DecryptionFailed(
                "a sealed value does not open with its record's data key (corrupt, or "
                "copied from another record)"
            ) from exc

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataKey) and other._text == self._text

    def __hash__(self) -> int:
        return hash(self._text)

    def __repr__(self) -> str:
        return "DataKey(…)"


class _Unwrapped:
    """A bounded LRU of unwrapped keys, per cipher."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: weakref.WeakKeyDictionary[FieldCipher, OrderedDict[bytes, DataKey]] = (
            weakref.WeakKeyDictionary()
        )

    def unwrap(self, cipher: FieldCipher, token: str) -> DataKey:
        digest = _digest(token)
        with self._lock:
            keys = self._keys.setdefault(cipher, OrderedDict())
            found = keys.get(digest)
            if found is not None:
                keys.move_to_end(digest)
                return found
        key = DataKey(cipher.decrypt(token))
        with self._lock:
            keys[digest] = key
            while len(keys) > CACHE_SIZE:
                keys.popitem(last=False)
        return key

    def forget(self, key: DataKey) -> None:
        with self._lock:
            for keys in self._keys.values():
                for digest in [d for d, k in keys.items() if k == key]:
                    del keys[digest]


_cache = _Unwrapped()


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii", "replace")).digest()


def forget(key: DataKey) -> None:
    """Drop ``key`` (being destroyed) from this process's cache of unwrapped keys."""
    _cache.forget(key)


def unwrap(cipher: FieldCipher, token: str) -> DataKey:
    """The data key wrapped in ``token`` (cached).

    Raises:
        DecryptionFailed: none of the master keys opens the token.
    """
    return _cache.unwrap(cipher, token)


class WrappedKey(TypeDecorator[DataKey]):
    """A :class:`DataKey` stored wrapped by the master keys; None stays NULL.

    Rotation (``riskloop`` key rotation) re-wraps these tokens like any encrypted column.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: DataKey | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return cipher_of(dialect).encrypt(value.text)

    def process_result_value(self, value: str | None, dialect: Dialect) -> DataKey | None:
        if value is None:
            return None
        return unwrap(cipher_of(dialect), value)
