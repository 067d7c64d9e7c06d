"""routing: customer tiers, agents' skill groups and shifts, handoff groups and priority, desk alerts

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 19:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customers') as batch:
        batch.add_column(sa.Column('tier', sa.String(length=8), nullable=False, server_default='regular'))
    with op.batch_alter_table('handoffs') as batch:
        batch.add_column(sa.Column('skill_group', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('group_since', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('overflowed_from', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('priority', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('tier', sa.String(length=8), nullable=True))
        batch.add_column(sa.Column('routing', sa.Text(), nullable=True))
        batch.create_index(batch.f('ix_handoffs_skill_group'), ['skill_group'])
    op.create_table(
        'agent_skills',
        sa.Column('agent_id', sa.Integer(), nullable=False),
        sa.Column('skill', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name='fk_agent_skills_agent_id_agents'),
        sa.PrimaryKeyConstraint('agent_id', 'skill'),
    )
    op.create_table(
        'agent_shifts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('agent_id', sa.Integer(), nullable=False),
        sa.Column('weekday', sa.Integer(), nullable=False),
        sa.Column('start_minute', sa.Integer(), nullable=False),
        sa.Column('end_minute', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name='fk_agent_shifts_agent_id_agents'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_agent_shifts_agent_id'), 'agent_shifts', ['agent_id'])
    op.create_table(
        'desk_alerts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('handoff_id', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('acknowledged_at', sa.DateTime(), nullable=True),
        sa.Column('acknowledged_by', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id'], name='fk_desk_alerts_handoff_id_handoffs'),
        sa.ForeignKeyConstraint(['acknowledged_by'], ['agents.id'], name='fk_desk_alerts_acknowledged_by_agents'),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_desk_alerts_open', 'desk_alerts', ['acknowledged_at', 'id'])


def downgrade() -> None:
    op.drop_index('ix_desk_alerts_open', table_name='desk_alerts')
    op.drop_table('desk_alerts')
    op.drop_index(op.f('ix_agent_shifts_agent_id'), table_name='agent_shifts')
    op.drop_table('agent_shifts')
    op.drop_table('agent_skills')
    with op.batch_alter_table('handoffs') as batch:
        batch.drop_index(batch.f('ix_handoffs_skill_group'))
        for column in ('routing', 'tier', 'priority', 'overflowed_from', 'group_since', 'skill_group'):
            batch.drop_column(column)
    with op.batch_alter_table('customers') as batch:
        batch.drop_column('tier')
