import pytest
from cryptography.fernet import Fernet
from sqlalchemy import String, create_engine, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from workflow.errors import ConfigurationError
from workflow.platform.crypto import (
    CipherNotConfigured,
    DecryptionFailed,
    EncryptedJSON,
    EncryptedString,
    EncryptionKeyError,
    FieldCipher,
    attach_cipher,
    cipher_of,
    generate_key,
    parse_keys,
    session_cipher,
)

PHONE = "13812341234"


@pytest.fixture
def key():
    return generate_key()


@pytest.fixture
def cipher(key):
    return FieldCipher([key])


def test_generated_keys_are_valid_fernet_keys_and_differ():
    first, second = generate_key(), generate_key()
    assert first != second
    Fernet(first)


def test_round_trip_including_non_ascii_text():
    cipher = FieldCipher([generate_key()])
    for value in (PHONE, "", "张三 6222 0200 1234 5678"):
        assert cipher.decrypt(cipher.encrypt(value)) == value


def test_ciphertext_hides_the_plaintext_and_is_randomised():
    cipher = FieldCipher([generate_key()])
    first, second = cipher.encrypt(PHONE), cipher.encrypt(PHONE)
    assert PHONE not in first
    assert first != second


def test_encrypting_a_non_string_is_a_type_error():
    with pytest.raises(TypeError, match="text"):
        FieldCipher([generate_key()]).encrypt(13812341234)  # type: ignore[arg-type]


def test_no_keys_is_refused_with_the_variable_named():
    with pytest.raises(EncryptionKeyError, match="RISKLOOP_ENCRYPTION_KEYS"):
        FieldCipher([])


def test_a_malformed_key_is_refused_without_echoing_it():
    with pytest.raises(EncryptionKeyError) as excinfo:
        FieldCipher([generate_key(), "not-a-real-key-but-secret"])
    message = str(excinfo.value)
    assert "RISKLOOP_ENCRYPTION_KEYS" in message
    assert "key 2 of 2" in message
    assert "not-a-real-key-but-secret" not in message


def test_key_errors_belong_to_the_riskloop_hierarchy_and_are_value_errors():
    with pytest.raises(ConfigurationError):
        FieldCipher([])
    with pytest.raises(ValueError):
        FieldCipher([])


def test_a_bare_string_of_keys_is_parsed_not_iterated():
    old, new = generate_key(), generate_key()
    assert FieldCipher(f"{new},{old}").key_count == 2  # type: ignore[arg-type]


def test_parse_keys_splits_on_commas_and_drops_blanks():
    assert parse_keys(" k1 , k2,,\nk3 ") == ["k1", "k2", "k3"]
    assert parse_keys("") == []
    assert parse_keys(None) == []


def test_after_rotation_old_values_still_decrypt_and_rotate_to_the_new_key():
    old_key, new_key = generate_key(), generate_key()
    stored = FieldCipher([old_key]).encrypt(PHONE)

    # given the new key is put first and the old one kept
    rotated_config = FieldCipher([new_key, old_key])
    assert rotated_config.decrypt(stored) == PHONE
    assert not rotated_config.is_current(stored)

    # when the stored value is rotated
    rotated = rotated_config.rotate(stored)

    # then it opens with the new key alone
    assert rotated_config.is_current(rotated)
    assert FieldCipher([new_key]).decrypt(rotated) == PHONE
    with pytest.raises(DecryptionFailed):
        FieldCipher([new_key]).decrypt(stored)


def test_a_value_from_an_unknown_key_fails_with_a_hint():
    stored = FieldCipher([generate_key()]).encrypt(PHONE)
    with pytest.raises(DecryptionFailed, match="put the old key back"):
        FieldCipher([generate_key()]).decrypt(stored)
    with pytest.raises(DecryptionFailed):
        FieldCipher([generate_key()]).rotate(stored)


def test_garbage_tokens_fail_cleanly():
    cipher = FieldCipher([generate_key()])
    for token in ("", "plain text", "密文"):
        with pytest.raises(DecryptionFailed):
            cipher.decrypt(token)
        assert not cipher.is_current(token)


def test_an_engine_without_a_cipher_explains_what_to_do():
    engine = create_engine("sqlite://")
    with pytest.raises(CipherNotConfigured, match="attach_cipher"):
        cipher_of(engine.dialect)
    engine.dispose()


def test_each_database_engine_has_its_own_cipher():
    first, second = create_engine("sqlite://"), create_engine("sqlite://")
    one, other = FieldCipher([generate_key()]), FieldCipher([generate_key()])
    assert attach_cipher(first, one) is one
    attach_cipher(second, other)
    assert cipher_of(first.dialect) is one and cipher_of(second.dialect) is other
    with Session(first) as session:
        assert session_cipher(session) is one
    first.dispose()
    second.dispose()


def test_repr_does_not_show_keys():
    key = generate_key()
    assert key not in repr(FieldCipher([key]))


class Base(DeclarativeBase):
    pass


class Person(Base):
    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(EncryptedString)
    contacts: Mapped[list | None] = mapped_column(EncryptedJSON)


@pytest.fixture
def session(cipher):
    engine = create_engine("sqlite://")
    attach_cipher(engine, cipher)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_encrypted_columns_round_trip_and_hold_ciphertext_on_disk(session):
    contacts = [{"name": "王五", "phone": "13900001111", "email": "w@example.com"}]
    session.add(Person(id=1, name="Zhang San", phone=PHONE, contacts=contacts))
    session.commit()
    session.expunge_all()

    person = session.get(Person, 1)
    assert person is not None
    assert person.phone == PHONE
    assert person.contacts == contacts

    raw_phone, raw_contacts = session.execute(
        text("SELECT phone, contacts FROM person WHERE id = 1")
    ).one()
    assert PHONE not in raw_phone
    assert "13900001111" not in raw_contacts
    assert "王五" not in raw_contacts
    assert session_cipher(session).decrypt(raw_phone) == PHONE


def test_null_stays_null_in_encrypted_columns(session):
    session.add(Person(id=2, name="Li Si", phone=None, contacts=None))
    session.commit()
    raw = session.execute(text("SELECT phone, contacts FROM person WHERE id = 2")).one()
    assert tuple(raw) == (None, None)
    session.expunge_all()
    person = session.scalars(select(Person).where(Person.id == 2)).one()
    assert person.phone is None
    assert person.contacts is None


def test_rows_written_before_a_key_rotation_still_load(session, key):
    session.add(Person(id=3, name="Zhao Liu", phone=PHONE))
    session.commit()
    session.expunge_all()

    # given a new key put first and the one the row was written with kept second
    attach_cipher(session.get_bind(), FieldCipher([generate_key(), key]))

    assert session.get(Person, 3).phone == PHONE
