"""what agents did with the desk's suggested replies

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 15:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'assist_outcomes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('handoff_id', sa.Integer(), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=True),
        sa.Column('intent', sa.String(length=191), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=True),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id'], name='fk_assist_outcomes_handoff_id_handoffs'),
        sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name='fk_assist_outcomes_agent_id_agents'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_assist_outcomes_time', 'assist_outcomes', ['created_at'])
    op.create_index(op.f('ix_assist_outcomes_handoff_id'), 'assist_outcomes', ['handoff_id'])


def downgrade() -> None:
    op.drop_index(op.f('ix_assist_outcomes_handoff_id'), table_name='assist_outcomes')
    op.drop_index('ix_assist_outcomes_time', table_name='assist_outcomes')
    op.drop_table('assist_outcomes')
