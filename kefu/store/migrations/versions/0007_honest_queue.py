"""honest queue: what a waiting shopper was told (place, estimate, reminder)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 05:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('told_position', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('estimate_due_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('reminded_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('handoffs', schema=None) as batch_op:
        batch_op.drop_column('reminded_at')
        batch_op.drop_column('estimate_due_at')
        batch_op.drop_column('told_position')
