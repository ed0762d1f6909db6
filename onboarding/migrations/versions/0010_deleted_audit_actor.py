"""audit entries remember that their actor's account was deleted (shown as "Deleted user")

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 02:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_log_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_deleted', sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table('audit_log_entry', schema=None) as batch_op:
        batch_op.drop_column('actor_deleted')
