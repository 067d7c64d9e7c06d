"""security: proofs counted per order and address, rate limits, the shop's
own mail ids, analytics without ids or personal data in clear

* ``verification_attempts`` gains the client address (a keyed hash) and
  indexes to count wrong proofs per order, per address and overall;
* ``rate_events``: uses of limited things (handoffs, tickets, ratings,
  desk login failures, reply mails) under keyed hashes;
* ``email_messages``: the Message-IDs the shop sent, the only ones a mail
  may reply to in order to continue a conversation;
* analytics keeps keyed hashes (HMAC) instead of sender ids, and texts with
  personal data replaced by placeholders; existing rows are converted;
* the e-mail channel is called ``mail`` everywhere (``mail:<thread>``).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_CHANNEL_COLUMNS = [("channel_identities", "channel"), ("tickets", "channel"), ("handoffs", "channel"),
                    ("satisfaction_ratings", "channel"), ("analytics_conversations", "channel"),
                    ("analytics_turns", "channel"), ("misunderstood_messages", "channel")]


def upgrade() -> None:
    from kefu.core.ids import conversation_key
    from kefu.core.privacy import anonymise

    with op.batch_alter_table('verification_attempts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_key', sa.String(length=64), nullable=True))
        batch_op.create_index('ix_verification_order_time', ['order_id', 'created_at'], unique=False)
        batch_op.create_index('ix_verification_client_time', ['client_key', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_verification_attempts_ok'), ['ok'], unique=False)
        batch_op.create_index(batch_op.f('ix_verification_attempts_created_at'), ['created_at'], unique=False)

    op.create_table('rate_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rate_events', schema=None) as batch_op:
        batch_op.create_index('ix_rate_events_scope_key_time', ['scope', 'key', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_rate_events_created_at'), ['created_at'], unique=False)

    op.create_table('email_messages',
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('conversation_id', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('message_id')
    )
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_messages_conversation_id'), ['conversation_id'], unique=False)

    bind = op.get_bind()
    # analytics: keyed hashes instead of sender ids, placeholders instead of personal data
    with op.batch_alter_table('analytics_turns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conversation_key', sa.String(length=64), nullable=True))
    turns = sa.table('analytics_turns', sa.column('id'), sa.column('sender_id'), sa.column('conversation_key'),
                     sa.column('text'))
    for row in bind.execute(sa.select(turns.c.id, turns.c.sender_id, turns.c.text)).all():
        bind.execute(turns.update().where(turns.c.id == row.id).values(
            conversation_key=conversation_key(row.sender_id), text=anonymise(row.text or "")))
    with op.batch_alter_table('analytics_turns', schema=None) as batch_op:
        batch_op.drop_constraint('uq_analytics_turns_sender_time', type_='unique')
        batch_op.alter_column('conversation_key', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('sender_id')
        batch_op.create_unique_constraint('uq_analytics_turns_key_time', ['conversation_key', 'event_time'])

    conversations = sa.table('analytics_conversations', sa.column('id'), sa.column('sender_id'),
                             sa.column('conversation_key'))
    for row in bind.execute(sa.select(conversations.c.id, conversations.c.sender_id)).all():
        bind.execute(conversations.update().where(conversations.c.id == row.id)
                     .values(conversation_key=conversation_key(row.sender_id)))
    with op.batch_alter_table('analytics_conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_analytics_conversations_sender_start')
        batch_op.drop_column('sender_id')
        batch_op.create_index('ix_analytics_conversations_key_start', ['conversation_key', 'started_at'], unique=False)

    misunderstood = sa.table('misunderstood_messages', sa.column('id'), sa.column('text'))
    for row in bind.execute(sa.select(misunderstood.c.id, misunderstood.c.text)).all():
        bind.execute(misunderstood.update().where(misunderstood.c.id == row.id)
                     .values(text=anonymise(row.text or "")))

    for table, column in _CHANNEL_COLUMNS:
        t = sa.table(table, sa.column(column))
        bind.execute(t.update().where(t.c[column] == 'email').values({column: 'mail'}))


def downgrade() -> None:
    """The schema goes back; the hashed ids and the redacted texts stay as
    they are (they cannot be reversed: that is their point)."""
    for table, column in _CHANNEL_COLUMNS:
        t = sa.table(table, sa.column(column))
        op.get_bind().execute(t.update().where(t.c[column] == 'mail').values({column: 'email'}))
    with op.batch_alter_table('analytics_conversations', schema=None) as batch_op:
        batch_op.drop_index('ix_analytics_conversations_key_start')
        batch_op.add_column(sa.Column('sender_id', sa.String(length=255), nullable=False, server_default=''))
        batch_op.create_index('ix_analytics_conversations_sender_start', ['sender_id', 'started_at'], unique=False)
    with op.batch_alter_table('analytics_turns', schema=None) as batch_op:
        batch_op.drop_constraint('uq_analytics_turns_key_time', type_='unique')
        batch_op.add_column(sa.Column('sender_id', sa.String(length=255), nullable=False, server_default=''))
    op.get_bind().execute(sa.text("update analytics_turns set sender_id = conversation_key"))
    with op.batch_alter_table('analytics_turns', schema=None) as batch_op:
        batch_op.drop_column('conversation_key')
        batch_op.create_unique_constraint('uq_analytics_turns_sender_time', ['sender_id', 'event_time'])
    with op.batch_alter_table('email_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_messages_conversation_id'))
    op.drop_table('email_messages')
    with op.batch_alter_table('rate_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rate_events_created_at'))
        batch_op.drop_index('ix_rate_events_scope_key_time')
    op.drop_table('rate_events')
    with op.batch_alter_table('verification_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verification_attempts_created_at'))
        batch_op.drop_index(batch_op.f('ix_verification_attempts_ok'))
        batch_op.drop_index('ix_verification_client_time')
        batch_op.drop_index('ix_verification_order_time')
        batch_op.drop_column('client_key')
