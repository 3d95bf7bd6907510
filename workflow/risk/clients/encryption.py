"""Key rotation: re-encrypt every encrypted column with the newest key.

That includes the wrapped data keys of client records (re-wrapped; the values sealed
with a data key need no rewrite).

After putting a new key first in ``RISKLOOP_ENCRYPTION_KEYS``, new writes use it
at once; this pass rewrites the stored values still made with an older key so the
old key can be dropped. It reads and writes the raw tokens (never the plaintext
through the ORM), in keyset batches, one commit per batch, so it can be stopped
and run again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import column, func, select, table, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnClause, TableClause
from sqlalchemy.types import Text

from workflow.platform.crypto import MASTER_KEY_TYPES, session_cipher
from workflow.platform.db import Base
from workflow.platform.envelope import WrappedKey


@dataclass(frozen=True)
class EncryptedColumn:
    table: str
    key: str
    column: str


def encrypted_columns() -> list[EncryptedColumn]:
    """Every (table, primary key, column) stored encrypted, from the models' metadata."""
    found = []
    for tbl in Base.metadata.sorted_tables:
        keys = list(tbl.primary_key.columns)
        if len(keys) != 1:
            continue
        for col in tbl.columns:
            if isinstance(col.type, (*MASTER_KEY_TYPES, WrappedKey)):
                found.append(EncryptedColumn(tbl.name, keys[0].name, col.name))
    return found


def _raw(target: EncryptedColumn) -> tuple[TableClause, ColumnClause[Any], ColumnClause[Any]]:
    # Text, not the encrypted type: the rotation handles tokens, never plaintext.
    key: ColumnClause[Any] = column(target.key)
    value: ColumnClause[Any] = column(target.column, Text)
    return table(target.table, key, value), key, value


def count_encrypted(session: Session) -> int:
    """How many stored encrypted values there are (for a progress bar)."""
    total = 0
    for target in encrypted_columns():
        tbl, _, value = _raw(target)
        total += session.execute(
            select(func.count()).select_from(tbl).where(value.is_not(None))
        ).scalar_one()
    return total


def rotate_all(
    session: Session, *, batch: int = 500, progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Re-encrypt every value not yet under the newest key; commits per batch.

    Returns how many values were rewritten per ``table.column``.

    Raises:
        DecryptionFailed: a value opens with none of the configured keys.
    """
    cipher = session_cipher(session)
    rewritten: dict[str, int] = {}
    for target in encrypted_columns():
        tbl, key, value = _raw(target)
        done = 0
        for rows in _batches(session, tbl, key, value, batch):
            for row_id, token in rows:
                if not cipher.is_current(token):
                    session.execute(
                        update(tbl).where(key == row_id).values({value: cipher.rotate(token)})
                    )
                    done += 1
            session.commit()
            if progress is not None:
                progress(len(rows))
        rewritten[f"{target.table}.{target.column}"] = done
    return rewritten


def _batches(
    session: Session, tbl: TableClause, key: ColumnClause[Any], value: ColumnClause[Any], size: int
) -> Iterator[list[tuple[int, str]]]:
    last = None
    while True:
        stmt = (
            select(key, value).select_from(tbl).where(value.is_not(None)).order_by(key).limit(size)
        )
        if last is not None:
            stmt = stmt.where(key > last)
        rows = [(r[0], r[1]) for r in session.execute(stmt)]
        if not rows:
            return
        last = rows[-1][0]
        yield rows
