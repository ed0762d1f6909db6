"""invite email delivery: which outbox message carries the current link, and when it was sent

Revision ID: 0007
Revises: 0003
Create Date: 2026-11-21 10:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organization_member', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invite_email_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('invite_emailed_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('organization_member', schema=None) as batch_op:
        batch_op.drop_column('invite_emailed_at')
        batch_op.drop_column('invite_email_id')
