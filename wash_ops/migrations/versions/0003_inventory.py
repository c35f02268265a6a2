"""inventory

Revision ID: 0003_inventory
Revises: 0002_telemetry
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from wash_ops.db import UTCDateTime

revision = "0003_inventory"
down_revision = "0002_telemetry"
branch_labels = None
depends_on = None

STATES = (
    "clean_available",
    "reserved",
    "loaded",
    "at_event",
    "dirty_in_transit",
    "received_dirty",
    "on_line",
    "quarantined",
    "lost",
    "broken",
    "customer_stored",
)


def upgrade() -> None:
    op.create_table(
        "stock_locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "zone",
                "rack",
                "pallet",
                "intake",
                "event",
                "loss",
                name="location_kind",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("capacity_crates", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "capacity_crates IS NULL OR capacity_crates > 0",
            name=op.f("ck_stock_locations_capacity_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_stock_locations_event_id_events")
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["stock_locations.id"],
            name=op.f("fk_stock_locations_parent_id_stock_locations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_locations")),
        sa.UniqueConstraint("code", name=op.f("uq_stock_locations_code")),
        sa.UniqueConstraint("event_id", name=op.f("uq_stock_locations_event_id")),
    )
    op.create_table(
        "stock_balances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cup_type_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("owner_key", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                *STATES, name="stock_state", native_enum=False, create_constraint=True, length=24
            ),
            nullable=False,
        ),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "(owner_id IS NULL AND owner_key = 0) OR owner_key = owner_id",
            name=op.f("ck_stock_balances_owner_key"),
        ),
        sa.CheckConstraint("quantity >= 0", name=op.f("ck_stock_balances_quantity_not_negative")),
        sa.ForeignKeyConstraint(
            ["cup_type_id"], ["cup_types.id"], name=op.f("fk_stock_balances_cup_type_id_cup_types")
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["stock_locations.id"],
            name=op.f("fk_stock_balances_location_id_stock_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["organisations.id"],
            name=op.f("fk_stock_balances_owner_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_balances")),
        sa.UniqueConstraint(
            "cup_type_id", "owner_key", "state", "location_id", name="uq_stock_balances_key"
        ),
    )
    with op.batch_alter_table("stock_balances", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stock_balances_location_id"), ["location_id"], unique=False
        )

    op.create_table(
        "stock_movements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cup_type_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column(
            "from_state",
            sa.Enum(
                *STATES, name="from_state", native_enum=False, create_constraint=True, length=24
            ),
            nullable=True,
        ),
        sa.Column("from_location_id", sa.Integer(), nullable=True),
        sa.Column(
            "to_state",
            sa.Enum(*STATES, name="to_state", native_enum=False, create_constraint=True, length=24),
            nullable=False,
        ),
        sa.Column("to_location_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "(from_state IS NULL AND from_location_id IS NULL) OR (from_state IS NOT NULL AND from_location_id IS NOT NULL)",
            name=op.f("ck_stock_movements_from_side_whole"),
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_stock_movements_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["cup_type_id"], ["cup_types.id"], name=op.f("fk_stock_movements_cup_type_id_cup_types")
        ),
        sa.ForeignKeyConstraint(
            ["from_location_id"],
            ["stock_locations.id"],
            name=op.f("fk_stock_movements_from_location_id_stock_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_stock_movements_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["organisations.id"],
            name=op.f("fk_stock_movements_owner_id_organisations"),
        ),
        sa.ForeignKeyConstraint(
            ["to_location_id"],
            ["stock_locations.id"],
            name=op.f("fk_stock_movements_to_location_id_stock_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_stock_movements_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
    )
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stock_movements_at"), ["at"], unique=False)
        batch_op.create_index(
            "ix_stock_movements_order_cup_type", ["order_id", "cup_type_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("stock_movements", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_movements_order_cup_type")
        batch_op.drop_index(batch_op.f("ix_stock_movements_at"))
    op.drop_table("stock_movements")
    with op.batch_alter_table("stock_balances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stock_balances_location_id"))

    op.drop_table("stock_balances")
    op.drop_table("stock_locations")
