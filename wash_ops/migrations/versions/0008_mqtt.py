"""MQTT telemetry: network sources, received messages (duplicates by sequence), dead letters

Revision ID: 0008_mqtt
Revises: 0007_stop_reasons
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_mqtt"
down_revision = "0007_stop_reasons"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "network_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("line_id", sa.Integer(), nullable=True),
        sa.Column("last_seq", sa.BigInteger(), nullable=True),
        sa.Column("last_time", sa.DateTime(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(), nullable=True),
        sa.Column("messages", sa.BigInteger(), nullable=False),
        sa.Column("duplicates", sa.BigInteger(), nullable=False),
        sa.Column("bd_seq", sa.Integer(), nullable=True),
        sa.Column("dead_since", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["line_id"], ["lines.id"], name=op.f("fk_network_sources_line_id_lines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_sources")),
        sa.UniqueConstraint("key", name=op.f("uq_network_sources_key")),
    )
    op.create_table(
        "network_received",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["network_sources.id"],
            name=op.f("fk_network_received_source_id_network_sources"),
        ),
        sa.PrimaryKeyConstraint("source_id", "seq", "at", name=op.f("pk_network_received")),
    )
    op.create_index("ix_network_received_at", "network_received", ["at"])
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("topic", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.Column("payload_size", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index("ix_dead_letters_received_at", "dead_letters", ["received_at"])
    op.create_index(op.f("ix_dead_letters_reason"), "dead_letters", ["reason"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dead_letters_reason"), table_name="dead_letters")
    op.drop_index("ix_dead_letters_received_at", table_name="dead_letters")
    op.drop_table("dead_letters")
    op.drop_index("ix_network_received_at", table_name="network_received")
    op.drop_table("network_received")
    op.drop_table("network_sources")
