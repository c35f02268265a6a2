"""telemetry

Revision ID: 0002_telemetry
Revises: 0001_foundation
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from wash_ops.db import UTCDateTime

revision = "0002_telemetry"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alarms",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("bit", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("raised_at", UTCDateTime(), nullable=False),
        sa.Column("returned_at", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"], ["users.id"], name=op.f("fk_alarms_acknowledged_by_id_users")
        ),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], name=op.f("fk_alarms_line_id_lines")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alarms_line_open", ["line_id", "returned_at", "acknowledged_at"], unique=False
        )

    op.create_table(
        "counter_cursors",
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.Column("raw", sa.BigInteger(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("candidate", sa.BigInteger(), nullable=True),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("day_total", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_counter_cursors_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("line_id", "tag", name=op.f("pk_counter_cursors")),
    )
    op.create_table(
        "counter_increments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_counter_increments_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counter_increments")),
    )
    with op.batch_alter_table("counter_increments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_counter_increments_line_tag_at", ["line_id", "tag", "at"], unique=False
        )

    op.create_table(
        "line_live",
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_good_at", UTCDateTime(), nullable=True),
        sa.Column("last_failure_at", UTCDateTime(), nullable=True),
        sa.Column("last_failure", sa.String(length=300), nullable=False),
        sa.Column("heartbeat", sa.BigInteger(), nullable=True),
        sa.Column("heartbeat_changed_at", UTCDateTime(), nullable=True),
        sa.Column("state", sa.Integer(), nullable=True),
        sa.Column("state_since", UTCDateTime(), nullable=True),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("good_readings", sa.BigInteger(), nullable=False),
        sa.Column("failed_readings", sa.BigInteger(), nullable=False),
        sa.Column("rejected_values", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["line_id"], ["lines.id"], name=op.f("fk_line_live_line_id_lines")),
        sa.PrimaryKeyConstraint("line_id", name=op.f("pk_line_live")),
    )
    op.create_table(
        "rollup_cursors",
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column(
            "resolution",
            sa.Enum(
                "minute",
                "hour",
                "day",
                name="cursor_resolution",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("done_until", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_rollup_cursors_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("line_id", "resolution", name=op.f("pk_rollup_cursors")),
    )
    op.create_table(
        "state_periods",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_state_periods_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_state_periods")),
    )
    with op.batch_alter_table("state_periods", schema=None) as batch_op:
        batch_op.create_index(
            "ix_state_periods_line_started", ["line_id", "started_at"], unique=False
        )

    op.create_table(
        "tag_rollups",
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.Column(
            "resolution",
            sa.Enum(
                "minute",
                "hour",
                "day",
                name="rollup_resolution",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("bucket", UTCDateTime(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.Double(), nullable=False),
        sa.Column("minimum", sa.Double(), nullable=False),
        sa.Column("maximum", sa.Double(), nullable=False),
        sa.Column("last", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_tag_rollups_line_id_lines")
        ),
        sa.PrimaryKeyConstraint(
            "line_id", "tag", "resolution", "bucket", name=op.f("pk_tag_rollups")
        ),
    )
    op.create_table(
        "tag_samples",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_tag_samples_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tag_samples")),
    )
    with op.batch_alter_table("tag_samples", schema=None) as batch_op:
        batch_op.create_index("ix_tag_samples_line_tag_at", ["line_id", "tag", "at"], unique=False)

    op.create_table(
        "alarm_journal",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("alarm_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column(
            "event",
            sa.Enum(
                "raised",
                "returned",
                "acknowledged",
                name="alarm_event",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alarm_id"], ["alarms.id"], name=op.f("fk_alarm_journal_alarm_id_alarms")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_alarm_journal_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_journal")),
    )
    with op.batch_alter_table("alarm_journal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alarm_journal_alarm_id"), ["alarm_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alarm_journal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alarm_journal_alarm_id"))

    op.drop_table("alarm_journal")
    with op.batch_alter_table("tag_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_tag_samples_line_tag_at")

    op.drop_table("tag_samples")
    op.drop_table("tag_rollups")
    with op.batch_alter_table("state_periods", schema=None) as batch_op:
        batch_op.drop_index("ix_state_periods_line_started")

    op.drop_table("state_periods")
    op.drop_table("rollup_cursors")
    op.drop_table("line_live")
    with op.batch_alter_table("counter_increments", schema=None) as batch_op:
        batch_op.drop_index("ix_counter_increments_line_tag_at")

    op.drop_table("counter_increments")
    op.drop_table("counter_cursors")
    with op.batch_alter_table("alarms", schema=None) as batch_op:
        batch_op.drop_index("ix_alarms_line_open")

    op.drop_table("alarms")
