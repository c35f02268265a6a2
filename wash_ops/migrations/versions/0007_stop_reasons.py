"""stop reasons on state periods

Revision ID: 0007_stop_reasons
Revises: 0004_washing
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_stop_reasons"
down_revision = "0004_washing"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("state_periods", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stop_reason", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("state_periods", schema=None) as batch_op:
        batch_op.drop_column("stop_reason")
