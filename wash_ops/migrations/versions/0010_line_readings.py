"""line readings: one row a reading (gauge values and counter increments) instead of one a tag

Revision ID: 0010_line_readings
Revises: 0009_routing
Create Date: 2026-12-06
"""

import heapq
import json
from itertools import groupby

import sqlalchemy as sa
from alembic import op

from wash_ops.db import UTCDateTime

revision = "0010_line_readings"
down_revision = "0009_routing"
branch_labels = None
depends_on = None

BATCH = 5000

_readings = sa.table(
    "line_readings",
    sa.column("line_id", sa.Integer),
    sa.column("at", UTCDateTime),
    sa.column("gauges", sa.JSON),
    sa.column("counts", sa.JSON),
)
_samples = sa.table(
    "tag_samples",
    sa.column("id", sa.Integer),
    sa.column("line_id", sa.Integer),
    sa.column("tag", sa.String),
    sa.column("at", UTCDateTime),
    sa.column("value", sa.Float),
)
_increments = sa.table(
    "counter_increments",
    sa.column("id", sa.Integer),
    sa.column("line_id", sa.Integer),
    sa.column("tag", sa.String),
    sa.column("at", UTCDateTime),
    sa.column("delta", sa.BigInteger),
)


def upgrade() -> None:
    op.create_table(
        "line_readings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("gauges", sa.JSON(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_line_readings_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_readings")),
    )
    with op.batch_alter_table("line_readings", schema=None) as batch_op:
        batch_op.create_index("ix_line_readings_line_at", ["line_id", "at"], unique=False)
    _merge_into_readings(op.get_bind())
    with op.batch_alter_table("tag_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_tag_samples_line_tag_at")
    op.drop_table("tag_samples")
    with op.batch_alter_table("counter_increments", schema=None) as batch_op:
        batch_op.drop_index("ix_counter_increments_line_tag_at")
    op.drop_table("counter_increments")


def _merge_into_readings(connection: sa.Connection) -> None:
    """Samples and increments of the same line and moment become one reading. Both tables
    are read in (line, time) order and merged as they stream, so that the retention window's
    millions of rows never sit in memory at once."""
    samples = connection.execute(
        sa.select(_samples.c.line_id, _samples.c.at, _samples.c.tag, _samples.c.value, 0)
        .order_by(_samples.c.line_id, _samples.c.at, _samples.c.id)
        .execution_options(yield_per=BATCH)
    )
    increments = connection.execute(
        sa.select(
            _increments.c.line_id, _increments.c.at, _increments.c.tag, _increments.c.delta, 1
        )
        .order_by(_increments.c.line_id, _increments.c.at, _increments.c.id)
        .execution_options(yield_per=BATCH)
    )
    rows: list[dict] = []
    merged = heapq.merge(samples, increments, key=lambda row: (row[0], row[1]))
    for (line_id, at), group in groupby(merged, key=lambda row: (row[0], row[1])):
        gauges: dict[str, float] = {}
        counts: dict[str, int] = {}
        for _line, _at, tag, value, is_count in group:
            if not is_count:
                gauges[tag] = value
            elif value:
                counts[tag] = counts.get(tag, 0) + value
        if gauges or counts:
            rows.append({"line_id": line_id, "at": at, "gauges": gauges, "counts": counts})
        if len(rows) >= BATCH:
            _insert_readings(connection, rows)
    _insert_readings(connection, rows)


def _insert_readings(connection: sa.Connection, rows: list[dict]) -> None:
    if rows:
        connection.execute(sa.insert(_readings), rows)
        rows.clear()


def downgrade() -> None:
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
        "tag_samples",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_tag_samples_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tag_samples")),
    )
    with op.batch_alter_table("tag_samples", schema=None) as batch_op:
        batch_op.create_index("ix_tag_samples_line_tag_at", ["line_id", "tag", "at"], unique=False)
    _split_readings(op.get_bind())
    with op.batch_alter_table("line_readings", schema=None) as batch_op:
        batch_op.drop_index("ix_line_readings_line_at")
    op.drop_table("line_readings")


def _split_readings(connection: sa.Connection) -> None:
    readings = connection.execute(
        sa.select(_readings.c.line_id, _readings.c.at, _readings.c.gauges, _readings.c.counts)
    ).all()
    samples = [
        {"line_id": line_id, "tag": tag, "at": at, "value": value}
        for line_id, at, gauges, _counts in readings
        for tag, value in _loaded(gauges).items()
    ]
    increments = [
        {"line_id": line_id, "tag": tag, "at": at, "delta": delta}
        for line_id, at, _gauges, counts in readings
        for tag, delta in _loaded(counts).items()
    ]
    for table, rows in ((_samples, samples), (_increments, increments)):
        for start in range(0, len(rows), BATCH):
            connection.execute(sa.insert(table), rows[start : start + BATCH])


def _loaded(value: object) -> dict:
    return json.loads(value) if isinstance(value, str) else dict(value or {})
