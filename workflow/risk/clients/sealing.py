"""A client's personal data, sealed with the record's own data key (PIPL erasure).

Every client record gets a random :class:`~workflow.platform.envelope.DataKey` the
first time a personal field is written; the key is stored wrapped by the master keys
(``clients.data_key``). The personal columns hold tokens sealed with that key, and so
do the copies of personal values the system keeps elsewhere (the field diffs of the
client's audit records, the before/after of change requests): ``{"sealed": token}``.
Erasing the client destroys its key, after which every one of those copies is
unreadable while the audit trail's hashes still verify (they cover the tokens).
"""

from __future__ import annotations

import json
from typing import Any, Generic, TypeVar, overload

from workflow.errors import Conflict
from workflow.platform.crypto import DecryptionFailed
from workflow.platform.envelope import DataKey

# The personal fields of a client record, sealed with its data key.
PERSONAL_FIELDS = ("legal_representative", "id_number", "contacts", "bank_account")
# Sealed in the copies kept in audit diffs (masked first): the name of a natural person
# and what still names one when masked. A masked bank account (its last four digits)
# stays readable in the trail.
SEALED_IN_TRAIL = ("name", "legal_representative", "id_number", "contacts")

T = TypeVar("T")


def erased_refusal(client_id: int) -> Conflict:
    return Conflict(
        f"client {client_id} was erased (PIPL): its personal data can no longer be written or read",
        code="client.erased",
        params={"client_id": client_id},
    )


class Sealed(Generic[T]):
    """A personal field read and written in the clear, stored sealed in ``column``.

    Reading an erased record's field gives None. Writing one on an erased record is
    refused; the first write on a record without a key makes its key.
    """

    def __init__(self, column: str) -> None:
        self.column = column
        self.name = column

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> Sealed[T]: ...

    @overload
    def __get__(self, obj: object, owner: type) -> T | None: ...

    def __get__(self, obj: object | None, owner: type) -> Sealed[T] | T | None:
        if obj is None:
            # Sealed values cannot be selected or compared in SQL: load the record.
            return self
        token = getattr(obj, self.column)
        key: DataKey | None = getattr(obj, "data_key")  # noqa: B009 (a mapped column)
        if token is None or key is None:
            return None
        value: T = json.loads(key.open(token))
        return value

    def __set__(self, obj: Any, value: T | None) -> None:
        if value is None:
            setattr(obj, self.column, None)
            return
        setattr(obj, self.column, record_key(obj).seal(_dump(value)))


def record_key(client: Any) -> DataKey:
    """The client's data key, made on first use.

    Raises:
        Conflict: the client was erased (its key is destroyed for good).
    """
    key: DataKey | None = client.data_key
    if key is None:
        if client.erased_at is not None:
            raise erased_refusal(client.id)
        key = client.data_key = DataKey.generate()
    return key


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def seal_copy(client: Any, value: Any) -> Any:
    """A copy of a personal value to keep outside the record (audit diff, case data),
    sealed with the record's key; None stays None."""
    if value is None:
        return None
    return {"sealed": record_key(client).seal(_dump(value))}


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"sealed"}


def open_copy(key: DataKey | None, value: Any) -> Any:
    """The value of a :func:`seal_copy`, or None once the record's key is destroyed;
    anything not sealed is given back unchanged."""
    if not is_sealed(value):
        return value
    if key is None:
        return None
    try:
        return json.loads(key.open(value["sealed"]))
    except DecryptionFailed:
        return None


def seal_diff(client: Any, diff: dict[str, Any]) -> dict[str, Any]:
    """``diff`` ({field: {before, after}}) with the values of :data:`SEALED_IN_TRAIL`
    sealed, for an audit record that must outlive an erasure."""
    return {
        field: (
            {side: seal_copy(client, value) for side, value in change.items()}
            if field in SEALED_IN_TRAIL and isinstance(change, dict)
            else change
        )
        for field, change in diff.items()
    }


def open_diff(key: DataKey | None, diff: Any) -> Any:
    """An audit diff with its sealed values opened (None once erased)."""
    if not isinstance(diff, dict):
        return diff
    return {
        field: (
            {side: open_copy(key, value) for side, value in change.items()}
            if isinstance(change, dict)
            else change
        )
        for field, change in diff.items()
    }
