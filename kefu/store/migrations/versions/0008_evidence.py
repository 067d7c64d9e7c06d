"""photo evidence for after-sale requests and complaints

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 08:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'evidence',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('conversation_key', sa.String(length=64), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('content_type', sa.String(length=32), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('storage_key', sa.String(length=128), nullable=False),
        sa.Column('thumbnail_key', sa.String(length=128), nullable=False),
        sa.Column('aftersale_number', sa.Integer(), nullable=True),
        sa.Column('ticket_number', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['aftersale_number'], ['aftersale_requests.number']),
        sa.ForeignKeyConstraint(['ticket_number'], ['tickets.number']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_evidence_conversation', 'evidence', ['conversation_key', 'created_at'])
    op.create_index(op.f('ix_evidence_aftersale_number'), 'evidence', ['aftersale_number'])
    op.create_index(op.f('ix_evidence_ticket_number'), 'evidence', ['ticket_number'])


def downgrade() -> None:
    op.drop_index(op.f('ix_evidence_ticket_number'), table_name='evidence')
    op.drop_index(op.f('ix_evidence_aftersale_number'), table_name='evidence')
    op.drop_index('ix_evidence_conversation', table_name='evidence')
    op.drop_table('evidence')
