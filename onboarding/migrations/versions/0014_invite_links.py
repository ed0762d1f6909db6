"""shareable invite links and the join requests filed through them

Revision ID: 0014
Revises: 0011
Create Date: 2026-11-30 03:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'invite_link',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('organization_id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('role', sa.String(length=32), nullable=False),
        sa.Column('max_uses', sa.Integer(), nullable=True),
        sa.Column('uses', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.Column('allowed_domains', sa.JSON(), nullable=False),
        sa.Column('require_approval', sa.Boolean(), nullable=False),
        sa.Column('revoked_at', sa.DateTime(), nullable=True),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('date_created', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('invite_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invite_link_organization_id'), ['organization_id'], unique=False)
    op.create_table(
        'invite_link_request',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('link_id', sa.Integer(), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('date_created', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['link_id'], ['invite_link.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['member_id'], ['organization_member.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('member_id'),
    )
    with op.batch_alter_table('invite_link_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invite_link_request_link_id'), ['link_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invite_link_request_user_id'), ['user_id'], unique=False)


def downgrade():
    op.drop_table('invite_link_request')
    op.drop_table('invite_link')
