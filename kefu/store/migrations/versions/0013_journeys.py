"""service journeys: how far each conversation got through a flow

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 20:15:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'analytics_journeys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sa.Integer(), nullable=False),
        sa.Column('flow', sa.String(length=32), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=False),
        sa.Column('furthest', sa.Integer(), nullable=False),
        sa.Column('last_text', sa.Text(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['conversation_id'], ['analytics_conversations.id'],
                                name='fk_analytics_journeys_conversation_id'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('conversation_id', 'flow', name='uq_analytics_journeys_conversation_flow'),
    )
    op.create_index('ix_analytics_journeys_flow_start', 'analytics_journeys', ['flow', 'started_at'])


def downgrade() -> None:
    op.drop_index('ix_analytics_journeys_flow_start', table_name='analytics_journeys')
    op.drop_table('analytics_journeys')
