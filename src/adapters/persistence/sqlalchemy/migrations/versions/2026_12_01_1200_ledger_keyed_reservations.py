"""Ledger: `balances.chain_kind` (keyed chain marker) and `ledger_reservations` rows.

Existing `balances` rows are marked "sha256" (chains sealed before the ledger key existed);
the application re-seals them with the key at start (ADR 0047). Every reservation already in
`ledger_events` gets its row, settled ones with their settlement (ADR 0048).

Revision ID: 1200_ledger_keyed
Revises: 0004_client_webhooks
Create Date: 2026-12-01 12:00:00
"""
# imagegen: backfill-only (its SQL copies existing reservation events; ADR 0063)


from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from alembic import op

from adapters.persistence.sqlalchemy.tables import UtcDateTime

revision = '1200_ledger_keyed'
down_revision = '0004_client_webhooks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('balances', sa.Column('chain_kind', sa.String(length=16),
                                        server_default='sha256', nullable=False))
    op.create_table('ledger_reservations',
    sa.Column('account_id', sa.String(length=64), nullable=False),
    sa.Column('job_id', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reserved_version', sa.Integer(), nullable=False),
    sa.Column('settled_version', sa.Integer(), nullable=True),
    sa.Column('captured', sa.BigInteger(), nullable=True),
    sa.Column('released', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('account_id', 'job_id', name=op.f('pk_ledger_reservations'))
    )
    op.create_index('ix_ledger_reservations_open', 'ledger_reservations', ['expires_at'],
                    unique=False, postgresql_where=sa.text('settled_version IS NULL'),
                    sqlite_where=sa.text('settled_version IS NULL'))
    _backfill_reservations()


def _backfill_reservations() -> None:
    conn = op.get_bind()
    events = sa.table('ledger_events', sa.column('account_id'), sa.column('version'),
                      sa.column('type'), sa.column('payload'))
    rows = sa.table('ledger_reservations', sa.column('account_id'), sa.column('job_id'),
                    sa.column('amount'), sa.column('expires_at', UtcDateTime),
                    sa.column('reserved_version'), sa.column('settled_version'),
                    sa.column('captured'), sa.column('released'))
    found: dict[tuple[str, str], dict[str, object]] = {}
    query = (sa.select(events.c.payload).where(events.c.type.in_(
        ['credits_reserved', 'reservation_captured', 'reservation_released']))
        .order_by(events.c.account_id, events.c.version))
    for (payload,) in conn.execute(query):
        event = json.loads(payload)
        key = (event['account_id'], event['job_id'])
        if event['type'] == 'credits_reserved':
            found[key] = {'account_id': key[0], 'job_id': key[1], 'amount': event['amount'],
                          'expires_at': datetime.fromisoformat(event['expires_at']),
                          'reserved_version': event['version'], 'settled_version': None,
                          'captured': None, 'released': None}
        elif key in found:
            if event['type'] == 'reservation_captured':
                captured, released = event['amount'], event['released']
            else:
                captured, released = 0, event['amount']
            found[key].update(settled_version=event['version'], captured=captured,
                              released=released)
    if found:
        conn.execute(rows.insert(), list(found.values()))


def downgrade() -> None:
    op.drop_index('ix_ledger_reservations_open', table_name='ledger_reservations')
    op.drop_table('ledger_reservations')
    op.drop_column('balances', 'chain_kind')
