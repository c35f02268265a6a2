"""washing: wash batches with their counts and hygiene record

Revision ID: 0004_washing
Revises: 0003_inventory
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from wash_ops.db import UTCDateTime

revision = "0004_washing"
down_revision = "0003_inventory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wash_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("cup_type_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "ended",
                name="wash_batch_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("cups_loaded", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("started_by_id", sa.Integer(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.Column("ended_by_id", sa.Integer(), nullable=True),
        sa.Column("cups_washed", sa.Integer(), nullable=False),
        sa.Column("cups_rejected", sa.Integer(), nullable=False),
        sa.Column("cups_good", sa.Integer(), nullable=False),
        sa.Column("cups_broken", sa.Integer(), nullable=False),
        sa.Column("cups_unwashed", sa.Integer(), nullable=False),
        sa.Column("water_l", sa.Double(), nullable=True),
        sa.Column("energy_kwh", sa.Double(), nullable=True),
        sa.Column("wash_tag", sa.String(length=40), nullable=False),
        sa.Column("rinse_tag", sa.String(length=40), nullable=False),
        sa.Column("wash_limit_c", sa.Double(), nullable=False),
        sa.Column("rinse_limit_c", sa.Double(), nullable=False),
        sa.Column("max_seconds_below", sa.Integer(), nullable=False),
        sa.Column("max_gap_s", sa.Double(), nullable=False),
        sa.Column("wash_lowest_c", sa.Double(), nullable=True),
        sa.Column("wash_highest_c", sa.Double(), nullable=True),
        sa.Column("rinse_lowest_c", sa.Double(), nullable=True),
        sa.Column("rinse_highest_c", sa.Double(), nullable=True),
        sa.Column("wash_seconds_below", sa.Double(), nullable=True),
        sa.Column("rinse_seconds_below", sa.Double(), nullable=True),
        sa.Column("hygiene_passed", sa.Boolean(), nullable=True),
        sa.CheckConstraint(
            "(status = 'running' AND ended_at IS NULL) OR (status = 'ended' AND ended_at IS NOT NULL AND ended_at >= started_at)",
            name=op.f("ck_wash_batches_ended_when_ended"),
        ),
        sa.CheckConstraint(
            "cups_good + cups_broken + cups_unwashed = 0 OR cups_good + cups_broken + cups_unwashed = cups_loaded",
            name=op.f("ck_wash_batches_booked_adds_up"),
        ),
        sa.CheckConstraint("cups_loaded > 0", name=op.f("ck_wash_batches_cups_loaded_positive")),
        sa.CheckConstraint(
            "cups_washed >= 0 AND cups_rejected >= 0 AND cups_good >= 0 AND cups_broken >= 0 AND cups_unwashed >= 0",
            name=op.f("ck_wash_batches_counts_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["cup_type_id"], ["cup_types.id"], name=op.f("fk_wash_batches_cup_type_id_cup_types")
        ),
        sa.ForeignKeyConstraint(
            ["ended_by_id"], ["users.id"], name=op.f("fk_wash_batches_ended_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_wash_batches_line_id_lines")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_wash_batches_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["organisations.id"], name=op.f("fk_wash_batches_owner_id_organisations")
        ),
        sa.ForeignKeyConstraint(
            ["started_by_id"], ["users.id"], name=op.f("fk_wash_batches_started_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wash_batches")),
    )
    with op.batch_alter_table("wash_batches", schema=None) as batch_op:
        batch_op.create_index(
            "ix_wash_batches_line_started", ["line_id", "started_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_wash_batches_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            "uq_wash_batches_line_running",
            ["line_id"],
            unique=True,
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("wash_batches", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_wash_batches_line_running",
            sqlite_where=sa.text("status = 'running'"),
            postgresql_where=sa.text("status = 'running'"),
        )
        batch_op.drop_index(batch_op.f("ix_wash_batches_order_id"))
        batch_op.drop_index("ix_wash_batches_line_started")

    op.drop_table("wash_batches")
