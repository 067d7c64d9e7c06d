"""notifications: the shop's order events, the outbox of order news,
the conversations that follow an order, opt-outs, open widget pages

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 05:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'shop_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_key', sa.String(length=128), nullable=False),
        sa.Column('type', sa.String(length=32), nullable=False),
        sa.Column('order_id', sa.String(length=16), nullable=False),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('occurred_at', sa.DateTime(), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('event_key'),
    )
    op.create_index(op.f('ix_shop_events_order_id'), 'shop_events', ['order_id'], unique=False)
    op.create_table(
        'order_followers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('order_id', sa.String(length=16), nullable=False),
        sa.Column('conversation_id', sa.String(length=255), nullable=False),
        sa.Column('proven_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('order_id', 'conversation_id'),
    )
    op.create_index(op.f('ix_order_followers_order_id'), 'order_followers', ['order_id'], unique=False)
    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_key', sa.String(length=128), nullable=False),
        sa.Column('type', sa.String(length=32), nullable=False),
        sa.Column('order_id', sa.String(length=16), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sa.String(length=255), nullable=True),
        sa.Column('params', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.String(length=32), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
        sa.Column('claimed_until', sa.DateTime(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id']),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('event_key'),
    )
    op.create_index(op.f('ix_notifications_conversation_id'), 'notifications', ['conversation_id'], unique=False)
    op.create_index('ix_notifications_due', 'notifications', ['status', 'next_attempt_at'], unique=False)
    op.create_index('ix_notifications_customer_sent', 'notifications', ['customer_id', 'sent_at'], unique=False)
    op.create_table(
        'notification_optouts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=True),
        sa.Column('conversation_key', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['customer_id'], ['customers.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_notification_optouts_customer_id'), 'notification_optouts', ['customer_id'],
                    unique=False)
    op.create_index(op.f('ix_notification_optouts_conversation_key'), 'notification_optouts',
                    ['conversation_key'], unique=False)
    op.create_table(
        'web_pages',
        sa.Column('sid', sa.String(length=64), nullable=False),
        sa.Column('conversation_key', sa.String(length=64), nullable=False),
        sa.Column('opened_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('sid'),
    )
    op.create_index(op.f('ix_web_pages_conversation_key'), 'web_pages', ['conversation_key'], unique=False)


def downgrade() -> None:
    op.drop_table('web_pages')
    op.drop_table('notification_optouts')
    op.drop_index('ix_notifications_customer_sent', table_name='notifications')
    op.drop_index('ix_notifications_due', table_name='notifications')
    op.drop_table('notifications')
    op.drop_table('order_followers')
    op.drop_table('shop_events')
