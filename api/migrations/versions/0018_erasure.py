"""erasure: a data key per client record, personal fields sealed with it, financial figures
encrypted, erasure and offboarding times

Every existing client gets its own random data key (stored wrapped by the master keys of
RISKLOOP_ENCRYPTION_KEYS); its legal representative (plaintext until now), identity
number, contacts and bank account (master-key tokens until now) are re-sealed with that
key, and its registered capital and credit limit are encrypted with the master keys. The
data step needs the application's keys, so run it through ``riskloop db upgrade``.

Revision ID: 0018_erasure
Revises: 0017_persons_pipl
Create Date: 2026-12-06 17:00:00.000000

"""
import json
from decimal import Decimal

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import Fernet

# revision identifiers, used by Alembic.
revision = '0018_erasure'
down_revision = '0017_persons_pipl'
branch_labels = None
depends_on = None

SEALED = ('legal_representative', 'id_number', 'contacts', 'bank_account')
MONEY = ('registered_capital', 'credit_limit')
_CENTS = Decimal('0.01')


def _cipher():
    from flask import current_app

    cipher = current_app.extensions['riskloop']['runtime'].cipher
    if cipher is None:
        raise RuntimeError(
            'migration 0018_erasure re-encrypts client records: set RISKLOOP_ENCRYPTION_KEYS '
            'and run it with `riskloop db upgrade`'
        )
    return cipher


def _dump(value):
    return json.dumps(value, ensure_ascii=False, separators=(',', ':'), sort_keys=True)


def _rows(bind):
    columns = ', '.join(('id', 'data_key', *SEALED, *MONEY))
    return bind.execute(sa.text(f'SELECT {columns} FROM clients ORDER BY id')).mappings().all()


def _write(bind, client_id, values):
    assignments = ', '.join(f'{name} = :{name}' for name in values)
    bind.execute(
        sa.text(f'UPDATE clients SET {assignments} WHERE id = :id'), {**values, 'id': client_id}
    )


def upgrade():
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data_key', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('offboarded_at', sa.DateTime(), nullable=True))
        batch_op.alter_column(
            'legal_representative', existing_type=sa.String(length=64), type_=sa.Text()
        )
        for name in MONEY:
            batch_op.alter_column(
                name,
                existing_type=sa.Numeric(precision=20, scale=2),
                type_=sa.Text(),
                postgresql_using=f'{name}::text',
            )
    bind = op.get_bind()
    rows = _rows(bind)
    if not rows:
        return
    cipher = _cipher()
    for row in rows:
        key = Fernet.generate_key()
        own = Fernet(key)
        plain = {
            'legal_representative': row['legal_representative'],
            'id_number': cipher.decrypt(row['id_number']) if row['id_number'] else None,
            'contacts': json.loads(cipher.decrypt(row['contacts'])) if row['contacts'] else None,
            'bank_account': cipher.decrypt(row['bank_account']) if row['bank_account'] else None,
        }
        values = {
            name: own.encrypt(_dump(value).encode('utf-8')).decode('ascii')
            if value is not None
            else None
            for name, value in plain.items()
        }
        for name in MONEY:
            amount = row[name]
            values[name] = (
                cipher.encrypt(str(Decimal(str(amount)).quantize(_CENTS)))
                if amount is not None
                else None
            )
        values['data_key'] = cipher.encrypt(key.decode('ascii'))
        _write(bind, row['id'], values)


def downgrade():
    bind = op.get_bind()
    rows = _rows(bind)
    cipher = _cipher() if rows else None
    for row in rows:
        own = Fernet(cipher.decrypt(row['data_key']).encode('ascii')) if row['data_key'] else None

        def opened(name, row=row, own=own):
            token = row[name]
            if token is None or own is None:  # an erased record stays without its data
                return None
            return json.loads(own.decrypt(token.encode('ascii')).decode('utf-8'))

        legal = opened('legal_representative')
        contacts = opened('contacts')
        values = {
            'legal_representative': legal[:64] if legal else None,
            'id_number': cipher.encrypt(opened('id_number')) if opened('id_number') else None,
            'contacts': cipher.encrypt(_dump(contacts)) if contacts is not None else None,
            'bank_account': (
                cipher.encrypt(opened('bank_account')) if opened('bank_account') else None
            ),
        }
        for name in MONEY:
            values[name] = cipher.decrypt(row[name]) if row[name] else None
        _write(bind, row['id'], values)
    with op.batch_alter_table('clients', schema=None) as batch_op:
        for name in MONEY:
            batch_op.alter_column(
                name,
                existing_type=sa.Text(),
                type_=sa.Numeric(precision=20, scale=2),
                postgresql_using=f'{name}::numeric(20, 2)',
            )
        batch_op.alter_column(
            'legal_representative', existing_type=sa.Text(), type_=sa.String(length=64)
        )
        batch_op.drop_column('offboarded_at')
        batch_op.drop_column('erased_at')
        batch_op.drop_column('data_key')
