"""answers that teach the bot: agents' replies to what it could not answer

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 15:50:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'faq_proposals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('topic', sa.String(length=64), nullable=False),
        sa.Column('questions', sa.Text(), nullable=False),
        sa.Column('answer_zh', sa.Text(), nullable=False),
        sa.Column('answer_en', sa.Text(), nullable=False),
        sa.Column('approved_by', sa.Integer(), nullable=True),
        sa.Column('approved_at', sa.DateTime(), nullable=False),
        sa.Column('exported_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['approved_by'], ['agents.id'], name='fk_faq_proposals_approved_by_agents'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('topic'),
    )
    op.create_table(
        'faq_candidates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('handoff_id', sa.Integer(), nullable=False),
        sa.Column('question', sa.String(length=500), nullable=False),
        sa.Column('answer', sa.Text(), nullable=False),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('intent', sa.String(length=191), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('proposal_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['handoff_id'], ['handoffs.id'], name='fk_faq_candidates_handoff_id_handoffs'),
        sa.ForeignKeyConstraint(['proposal_id'], ['faq_proposals.id'],
                                name='fk_faq_candidates_proposal_id_faq_proposals'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('handoff_id', 'question', name='uq_faq_candidates_handoff_question'),
    )
    op.create_index(op.f('ix_faq_candidates_handoff_id'), 'faq_candidates', ['handoff_id'])
    op.create_index(op.f('ix_faq_candidates_status'), 'faq_candidates', ['status'])


def downgrade() -> None:
    op.drop_index(op.f('ix_faq_candidates_status'), table_name='faq_candidates')
    op.drop_index(op.f('ix_faq_candidates_handoff_id'), table_name='faq_candidates')
    op.drop_table('faq_candidates')
    op.drop_table('faq_proposals')
