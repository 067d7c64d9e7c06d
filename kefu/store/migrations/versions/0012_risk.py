"""risk control: complaint categories, escalations, risk events, blocked conversations

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 20:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets') as batch:
        batch.add_column(sa.Column('complaint_category', sa.String(length=16), nullable=True))
        batch.create_index(batch.f('ix_tickets_complaint_category'), ['complaint_category'])
    with op.batch_alter_table('handoffs') as batch:
        batch.add_column(sa.Column('escalated_at', sa.DateTime(), nullable=True))
    op.create_table(
        'risk_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sa.String(length=255), nullable=False),
        sa.Column('handoff_id', sa.Integer(), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id'], name='fk_risk_events_handoff_id_handoffs'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_risk_events_conversation_time', 'risk_events', ['conversation_id', 'created_at'])
    op.create_table(
        'blocked_conversations',
        sa.Column('conversation_id', sa.String(length=255), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('blocked_by', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['blocked_by'], ['agents.id'], name='fk_blocked_conversations_blocked_by_agents'),
        sa.PrimaryKeyConstraint('conversation_id'),
    )


def downgrade() -> None:
    op.drop_table('blocked_conversations')
    op.drop_index('ix_risk_events_conversation_time', table_name='risk_events')
    op.drop_table('risk_events')
    with op.batch_alter_table('handoffs') as batch:
        batch.drop_column('escalated_at')
    with op.batch_alter_table('tickets') as batch:
        batch.drop_index(batch.f('ix_tickets_complaint_category'))
        batch.drop_column('complaint_category')
