"""analytics

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 20:21:16.892662
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('analytics_conversations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.String(length=255), nullable=False),
    sa.Column('conversation_key', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('last_event_at', sa.DateTime(), nullable=False),
    sa.Column('user_messages', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('analytics_conversations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analytics_conversations_conversation_key'), ['conversation_key'],
                              unique=False)
        batch_op.create_index('ix_analytics_conversations_sender_start', ['sender_id', 'started_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_analytics_conversations_started_at'), ['started_at'], unique=False)

    op.create_table('analytics_cursors',
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('source')
    )
    op.create_table('analytics_turns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.String(length=255), nullable=False),
    sa.Column('event_time', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('intent', sa.String(length=128), nullable=True),
    sa.Column('retrieval_intent', sa.String(length=191), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('fallback', sa.Boolean(), nullable=False),
    sa.Column('low_confidence', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['analytics_conversations.id'],
                            name='fk_analytics_turns_conversation_id'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sender_id', 'event_time', name='uq_analytics_turns_sender_time')
    )
    with op.batch_alter_table('analytics_turns', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_analytics_turns_conversation_id'), ['conversation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_analytics_turns_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_analytics_turns_intent'), ['intent'], unique=False)

    op.create_table('misunderstood_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('turn_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('predicted_intent', sa.String(length=191), nullable=True),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('label', sa.String(length=191), nullable=True),
    sa.Column('labelled_by', sa.Integer(), nullable=True),
    sa.Column('labelled_at', sa.DateTime(), nullable=True),
    sa.Column('exported_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['labelled_by'], ['agents.id'], name='fk_misunderstood_messages_labelled_by_agents'),
    sa.ForeignKeyConstraint(['turn_id'], ['analytics_turns.id'], name='fk_misunderstood_messages_turn_id'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('turn_id')
    )
    with op.batch_alter_table('misunderstood_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_misunderstood_messages_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_misunderstood_messages_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('misunderstood_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_misunderstood_messages_status'))
        batch_op.drop_index(batch_op.f('ix_misunderstood_messages_created_at'))

    op.drop_table('misunderstood_messages')
    with op.batch_alter_table('analytics_turns', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analytics_turns_intent'))
        batch_op.drop_index(batch_op.f('ix_analytics_turns_created_at'))
        batch_op.drop_index(batch_op.f('ix_analytics_turns_conversation_id'))

    op.drop_table('analytics_turns')
    op.drop_table('analytics_cursors')
    with op.batch_alter_table('analytics_conversations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_analytics_conversations_started_at'))
        batch_op.drop_index('ix_analytics_conversations_sender_start')
        batch_op.drop_index(batch_op.f('ix_analytics_conversations_conversation_key'))

    op.drop_table('analytics_conversations')
