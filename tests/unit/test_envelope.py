"""Per-record data keys: sealed values open only with their own key, unwrapped keys are
cached per cipher and bounded, and a destroyed key leaves the cache."""

from __future__ import annotations

import pytest

from workflow.platform import envelope
from workflow.platform.crypto import DecryptionFailed, FieldCipher, generate_key
from workflow.platform.envelope import DataKey


def test_a_sealed_value_opens_only_with_its_own_key() -> None:
    key, other = DataKey.generate(), DataKey.generate()
    token = key.seal("王建国")
    assert "王建国" not in token and key.open(token) == "王建国"
    with pytest.raises(DecryptionFailed):
        other.open(token)
    assert key.text not in repr(key)


def test_unwrapped_keys_are_cached_bounded_and_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(envelope, "CACHE_SIZE", 2)
    cipher = FieldCipher([generate_key()])
    keys = [DataKey.generate() for _ in range(3)]
    wrapped = [cipher.encrypt(k.text) for k in keys]
    first = envelope.unwrap(cipher, wrapped[0])
    assert first == keys[0] and envelope.unwrap(cipher, wrapped[0]) is first  # cached
    envelope.unwrap(cipher, wrapped[1])
    envelope.unwrap(cipher, wrapped[2])  # evicts the least recently used: keys[0]
    assert envelope.unwrap(cipher, wrapped[0]) is not first
    again = envelope.unwrap(cipher, wrapped[0])
    envelope.forget(keys[0])
    assert envelope.unwrap(cipher, wrapped[0]) is not again
    # another cipher (other master keys) never reads this cipher's cache
    with pytest.raises(DecryptionFailed):
        envelope.unwrap(FieldCipher([generate_key()]), wrapped[1])
