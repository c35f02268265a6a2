"""routing: vehicles, route plans, routes, stops, calendar feeds

Revision ID: 0009_routing
Revises: 0008_mqtt
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

from wash_ops.db import UTCDateTime

revision = "0009_routing"
down_revision = "0008_mqtt"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "calendar_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_calendar_feeds_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feeds")),
        sa.UniqueConstraint("organisation_id", name=op.f("uq_calendar_feeds_organisation_id")),
        sa.UniqueConstraint("token", name=op.f("uq_calendar_feeds_token")),
    )
    op.create_table(
        "manual_stops",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.Column("deliver_crates", sa.Integer(), nullable=False),
        sa.Column("collect_crates", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("window_end > window_start", name=op.f("ck_manual_stops_manual_window")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_manual_stops_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_manual_stops")),
    )
    with op.batch_alter_table("manual_stops", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_manual_stops_day"), ["day"], unique=False)

    op.create_table(
        "route_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "published",
                name="route_plan_status",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("distance_m", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=False),
        sa.Column("solve_seconds", sa.Double(), nullable=False),
        sa.Column("matrix_source", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_route_plans_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_plans")),
    )
    with op.batch_alter_table("route_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_route_plans_day"), ["day"], unique=False)

    op.create_table(
        "vehicles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("capacity_crates", sa.Integer(), nullable=False),
        sa.Column("speed_kmh", sa.Double(), nullable=False),
        sa.Column("shift_start", sa.Time(), nullable=False),
        sa.Column("shift_end", sa.Time(), nullable=False),
        sa.Column("max_distance_km", sa.Double(), nullable=True),
        sa.Column("cost_per_km_cents", sa.Integer(), nullable=False),
        sa.Column("cost_per_hour_cents", sa.Integer(), nullable=False),
        sa.Column("max_reloads", sa.Integer(), nullable=False),
        sa.Column("courier_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("edited", sa.Boolean(), nullable=False),
        sa.CheckConstraint("capacity_crates >= 0", name=op.f("ck_vehicles_capacity_not_negative")),
        sa.CheckConstraint("speed_kmh > 0", name=op.f("ck_vehicles_speed_positive")),
        sa.ForeignKeyConstraint(
            ["courier_id"], ["users.id"], name=op.f("fk_vehicles_courier_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicles")),
        sa.UniqueConstraint("code", name=op.f("uq_vehicles_code")),
    )
    op.create_table(
        "routes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("courier_id", sa.Integer(), nullable=True),
        sa.Column("courier_chosen", sa.Boolean(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("distance_m", sa.Integer(), nullable=False),
        sa.Column("trips", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["courier_id"], ["users.id"], name=op.f("fk_routes_courier_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["route_plans.id"],
            name=op.f("fk_routes_plan_id_route_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicles.id"], name=op.f("fk_routes_vehicle_id_vehicles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routes")),
    )
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_routes_courier_id"), ["courier_id"], unique=False)

    op.create_table(
        "route_stops",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=True),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "delivery",
                "pickup",
                "manual",
                name="route_stop_kind",
                native_enum=False,
                create_constraint=True,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("manual_stop_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("lat", sa.Double(), nullable=False),
        sa.Column("lon", sa.Double(), nullable=False),
        sa.Column("window_start", UTCDateTime(), nullable=False),
        sa.Column("window_end", UTCDateTime(), nullable=False),
        sa.Column("crates", sa.Integer(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("service_s", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("trip", sa.Integer(), nullable=False),
        sa.Column("arrives_at", UTCDateTime(), nullable=True),
        sa.Column("departs_at", UTCDateTime(), nullable=True),
        sa.Column("load_after", sa.Integer(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("unserved_reason", sa.String(length=32), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("confirmed_crates", sa.Integer(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("confirmed_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("crates >= 0", name=op.f("ck_route_stops_crates_not_negative")),
        sa.CheckConstraint("window_end > window_start", name=op.f("ck_route_stops_stop_window")),
        sa.ForeignKeyConstraint(
            ["confirmed_by_id"], ["users.id"], name=op.f("fk_route_stops_confirmed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["manual_stop_id"],
            ["manual_stops.id"],
            name=op.f("fk_route_stops_manual_stop_id_manual_stops"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_route_stops_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["route_plans.id"],
            name=op.f("fk_route_stops_plan_id_route_plans"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["route_id"], ["routes.id"], name=op.f("fk_route_stops_route_id_routes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_route_stops")),
        sa.UniqueConstraint("plan_id", "key", name="uq_route_stops_plan_key"),
    )
    with op.batch_alter_table("route_stops", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_route_stops_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_route_stops_route_id"), ["route_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("route_stops", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_route_stops_route_id"))
        batch_op.drop_index(batch_op.f("ix_route_stops_order_id"))

    op.drop_table("route_stops")
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_routes_courier_id"))

    op.drop_table("routes")
    op.drop_table("vehicles")
    with op.batch_alter_table("route_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_route_plans_day"))

    op.drop_table("route_plans")
    with op.batch_alter_table("manual_stops", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_manual_stops_day"))

    op.drop_table("manual_stops")
    op.drop_table("calendar_feeds")
