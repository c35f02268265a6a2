"""The washing plan: the backlog and the expected returns booked by deadline, late orders, days
over capacity, the last week's washed against due, and who may see the pages."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from tests.conftest import login
from wash_ops.accounts.models import Role
from wash_ops.catalogue.services import main_line
from wash_ops.config import load_settings
from wash_ops.errors import InvalidInput
from wash_ops.inventory.journey import (
    deliver_order,
    load_order,
    pick_up_order,
    receive_returns,
)
from wash_ops.inventory.ledger import move_stock
from wash_ops.inventory.models import StockState as S
from wash_ops.inventory.reservations import reserve_for_order
from wash_ops.orders.models import OrderStatus
from wash_ops.planning import washing_plan as plan_module
from wash_ops.planning.washing_plan import JobKind, washing_plan
from wash_ops.telemetry.models import CounterCursor, Resolution, TagRollup
from wash_ops.telemetry.register_map import load_register_map
from wash_ops.telemetry.rollups import bucket_start

MONDAY = date(2027, 3, 1)  # Wednesday 3 March is closed in these settings
DAY = timedelta(days=1)


@pytest.fixture
def plan_settings():
    return load_settings(environ={"WASH_OPS_LINE__CLOSED_DATES": '["2027-03-03"]'})


@pytest.fixture
def now(plan_settings) -> datetime:
    return datetime(2027, 3, 1, 9, 30, tzinfo=plan_settings.zone)


@pytest.fixture
def line(db, plan_settings):
    line = main_line(db, plan_settings)
    line.capacity_per_day = 1000
    db.flush()
    return line


@pytest.fixture
def order_in(db, make_user, make_order):
    """An order of a new organiser with its wash window and status set directly: the plan
    reads them as the capacity check left them."""

    def make(status, release, due, quantities, name="Festival vzw"):
        organiser = make_user()
        organiser.organisation.name = name
        order = make_order(organiser, quantities)
        order.status = status
        order.wash_release_on, order.wash_due_on = release, due
        order.wash_cups = sum(quantities.values())
        db.flush()
        return order

    return make


def slots(plan, day: date) -> dict[tuple[int, str | None], int]:
    found = next(d for d in plan.days if d.day == day)
    return {(slot.job.order_id, slot.job.cup_type): slot.cups for slot in found.slots}


def test_earliest_deadline_first_and_a_closed_day_gets_nothing(
    db, plan_settings, line, now, order_in
):
    friday = order_in(OrderStatus.CONFIRMED, MONDAY, MONDAY + 4 * DAY, {"ECO33": 1500})
    tuesday = order_in(OrderStatus.PICKED_UP, MONDAY, MONDAY + DAY, {"ECO50": 1500})
    plan = washing_plan(db, plan_settings, line, now, days=7)

    assert [d.day for d in plan.days] == [MONDAY + n * DAY for n in range(7)]
    assert slots(plan, MONDAY) == {(tuesday.id, "ECO50"): 1000}
    assert slots(plan, MONDAY + DAY) == {(tuesday.id, "ECO50"): 500, (friday.id, "ECO33"): 500}
    wednesday = plan.days[2]
    assert not wednesday.open and wednesday.planned == 0 and wednesday.slots == ()
    assert slots(plan, MONDAY + 3 * DAY) == {(friday.id, "ECO33"): 1000}
    assert plan.days[1].percent == 100 and plan.days[1].free == 0
    assert plan.days[1].due == 1500  # the Tuesday order's cups are due that day
    assert plan.late == [] and plan.over_capacity_days == []
    assert plan.expected_cups == 3000 and plan.backlog_cups == 0


def test_an_order_of_several_cup_types_is_planned_per_cup_type(
    db, plan_settings, line, now, order_in
):
    order = order_in(OrderStatus.CONFIRMED, MONDAY, MONDAY + DAY, {"ECO33": 600, "ECO50": 300})
    plan = washing_plan(db, plan_settings, line, now, days=3)
    assert slots(plan, MONDAY) == {(order.id, "ECO33"): 600, (order.id, "ECO50"): 300}


def test_the_dirty_backlog_is_released_today_and_counts_what_the_ledger_holds(
    db, plan_settings, line, now, order_in, pool_stock, make_user
):
    planner = make_user(Role.PLANNER)
    # Its wash window said Thursday on, but the cups are here: they can be washed today.
    here = order_in(OrderStatus.CONFIRMED, MONDAY + 3 * DAY, MONDAY + 4 * DAY, {"ECO33": 900})
    reserve_for_order(db, here, planner)
    load_order(db, here, planner)
    deliver_order(db, here, planner)
    pick_up_order(db, here, planner)
    receive_returns(
        db,
        here,
        planner,
        returned={"ECO33": 880},
        broken={"ECO33": 20},
        foreign_crates=0,
        location=pool_stock,
    )
    assert here.status is OrderStatus.RECEIVED
    # A batch took 300 onto the line and 200 of them are washed: 680 are still dirty.
    for from_state, to_state, cups in (
        (S.RECEIVED_DIRTY, S.ON_LINE, 300),
        (S.ON_LINE, S.CLEAN_AVAILABLE, 200),
    ):
        move_stock(
            db,
            cup_type="ECO33",
            quantity=cups,
            from_state=from_state,
            from_location=pool_stock,
            to_state=to_state,
            to_location=pool_stock,
            reason="batch",
            order=here,
        )
    # Another order comes back only on Tuesday and is due on Tuesday: the backlog waits for it.
    urgent = order_in(OrderStatus.AT_EVENT, MONDAY + DAY, MONDAY + DAY, {"ECO25": 800})
    # Dirty cups that belong to no order are not planned, but said.
    move_stock(
        db,
        cup_type="ECO25",
        quantity=50,
        from_state=None,
        from_location=None,
        to_state=S.RECEIVED_DIRTY,
        to_location=pool_stock,
        reason="found",
    )
    plan = washing_plan(db, plan_settings, line, now, days=7)

    backlog = [job for job in plan.jobs if job.kind is JobKind.BACKLOG]
    assert [(job.order_id, job.cup_type, job.cups, job.release) for job in backlog] == [
        (here.id, "ECO33", 680, MONDAY)
    ]
    assert backlog[0].due == MONDAY + 4 * DAY
    assert plan.backlog_cups == 680 and plan.expected_cups == 800
    assert slots(plan, MONDAY) == {(here.id, "ECO33"): 680}
    assert slots(plan, MONDAY + DAY) == {(urgent.id, "ECO25"): 800}
    assert plan.unlinked_dirty == 50
    assert plan.late == []


def test_a_late_order_is_reported_with_its_shortfall_and_the_day_over_capacity(
    db, plan_settings, line, now, order_in
):
    big = order_in(OrderStatus.CONFIRMED, MONDAY, MONDAY + DAY, {"ECO33": 2500}, "Groot Feest")
    later = order_in(OrderStatus.CONFIRMED, MONDAY + DAY, MONDAY + 7 * DAY, {"ECO50": 1200})
    plan = washing_plan(db, plan_settings, line, now, days=14)

    [late] = plan.late
    assert (late.order_id, late.organisation, late.cups, late.late_cups) == (
        big.id,
        "Groot Feest",
        2500,
        500,
    )
    assert late.due == MONDAY + DAY and not late.overdue
    # Wednesday is closed: the 500 late cups are washed on Thursday, two days late, in the
    # capacity the on-time booking leaves (the later order keeps its place).
    assert late.done_on == MONDAY + 3 * DAY and late.days_late == 2
    assert [day.day for day in plan.over_capacity_days] == [MONDAY + DAY]
    assert plan.days[1].short == 500
    thursday = next(d for d in plan.days if d.day == MONDAY + 3 * DAY)
    assert {(s.job.order_id, s.cups, s.late) for s in thursday.slots} == {
        (big.id, 500, True),
        (later.id, 500, False),
    }
    friday = next(d for d in plan.days if d.day == MONDAY + 4 * DAY)
    assert {(s.job.order_id, s.cups) for s in friday.slots} == {(later.id, 700)}


def test_past_the_searched_late_jobs_late_cups_take_the_room_left_over(
    db, plan_settings, line, now, order_in, monkeypatch
):
    monkeypatch.setattr(plan_module, "MAX_SEARCHED_LATE", 0)
    big = order_in(OrderStatus.CONFIRMED, MONDAY, MONDAY + DAY, {"ECO33": 2500})
    later = order_in(OrderStatus.CONFIRMED, MONDAY + DAY, MONDAY + 7 * DAY, {"ECO50": 1200})
    plan = washing_plan(db, plan_settings, line, now, days=14)

    [late] = plan.late
    # Thursday is the later order's (booked on time); Friday has room left.
    assert late.order_id == big.id and late.late_cups == 500
    assert late.done_on == MONDAY + 4 * DAY and late.days_late == 3
    assert slots(plan, MONDAY + 3 * DAY) == {(later.id, "ECO50"): 1000}
    assert slots(plan, MONDAY + 4 * DAY) == {(later.id, "ECO50"): 200, (big.id, "ECO33"): 500}


def test_cups_that_find_no_day_within_the_search_are_said_so(
    db, plan_settings, line, now, order_in, monkeypatch
):
    monkeypatch.setattr(plan_module, "LATE_SEARCH_DAYS", 1)
    order = order_in(OrderStatus.CONFIRMED, MONDAY, MONDAY + DAY, {"ECO33": 5000})
    plan = washing_plan(db, plan_settings, line, now, days=7)
    [late] = plan.late
    assert late.order_id == order.id and late.late_cups == 3000
    assert late.done_on is None and late.days_late is None


def test_cups_past_their_deadline_come_first_and_are_late(db, plan_settings, line, now, order_in):
    overdue = order_in(OrderStatus.RECEIVED, MONDAY - 5 * DAY, MONDAY - 3 * DAY, {"ECO33": 1})
    # The received order holds no dirty cups in the ledger: nothing of it is planned.
    picked = order_in(OrderStatus.PICKED_UP, MONDAY - 4 * DAY, MONDAY - DAY, {"ECO33": 1200})
    plan = washing_plan(db, plan_settings, line, now, days=5)

    assert all(job.order_id != overdue.id for job in plan.jobs)
    [late] = plan.late
    assert late.order_id == picked.id and late.overdue and late.late_cups == 1200
    assert late.due == MONDAY - DAY
    assert late.done_on == MONDAY + DAY and late.days_late == 2
    assert slots(plan, MONDAY) == {(picked.id, "ECO33"): 1000}
    assert plan.days[0].short == 200 and plan.days[0].over_capacity


def test_past_days_compare_what_was_washed_with_what_was_due(
    db, plan_settings, line, now, order_in
):
    zone = plan_settings.zone
    friday, thursday = MONDAY - 3 * DAY, MONDAY - 4 * DAY
    order_in(OrderStatus.WASHED, friday - 2 * DAY, friday, {"ECO33": 800})
    order_in(OrderStatus.CLOSED, friday - 2 * DAY, friday, {"ECO50": 150})
    order_in(OrderStatus.CANCELLED, friday - 2 * DAY, friday, {"ECO50": 5000})  # never counts
    order_in(OrderStatus.CONFIRMED, MONDAY, MONDAY, {"ECO25": 400})
    for day, washed in ((thursday, 1200), (friday, 700)):
        bucket = bucket_start(
            datetime(day.year, day.month, day.day, 12, tzinfo=zone), Resolution.DAY, zone
        )
        db.add(
            TagRollup(
                line_id=line.id,
                tag="cups_washed",
                resolution=Resolution.DAY,
                bucket=bucket,
                count=10,
                total=washed,
                minimum=0,
                maximum=washed,
                last=0,
            )
        )
    db.add(
        CounterCursor(
            line_id=line.id,
            tag="cups_washed",
            raw=5000,
            at=now,
            total=5000,
            day=MONDAY,
            day_total=250,
        )
    )
    db.flush()
    register_map = load_register_map()
    plan = washing_plan(db, plan_settings, line, now, days=7, register_map=register_map)

    scale = register_map.tag("cups_washed").scale
    history = {past.day: past for past in plan.history}
    assert list(history) == [MONDAY - n * DAY for n in range(7, -1, -1)]
    assert (history[friday].due, history[friday].washed) == (950, round(700 * scale))
    assert history[friday].difference == round(700 * scale) - 950
    assert (history[thursday].due, history[thursday].washed) == (0, round(1200 * scale))
    assert not history[MONDAY - DAY].open and history[MONDAY - DAY].washed == 0
    today = history[MONDAY]
    assert today.today and today.washed == round(250 * scale) and today.due == 400
    assert today.planned == plan.days[0].planned == 400


def test_yesterdays_counter_is_not_today(db, plan_settings, line, now):
    db.add(
        CounterCursor(
            line_id=line.id,
            tag="cups_washed",
            raw=1,
            at=now - DAY,
            total=1,
            day=MONDAY - DAY,
            day_total=999,
        )
    )
    db.flush()
    plan = washing_plan(db, plan_settings, line, now, days=1)
    assert plan.history[-1].washed == 0


@pytest.mark.parametrize("days", [0, 57, -3, "14", 7.0, True, None])
def test_days_out_of_range_are_refused(db, plan_settings, line, now, days):
    with pytest.raises(InvalidInput) as caught:
        washing_plan(db, plan_settings, line, now, days=days)
    assert caught.value.first.field == "days"
    assert "1 to 56 days" in str(caught.value)


def test_the_longest_and_shortest_plans(db, plan_settings, line, now):
    assert len(washing_plan(db, plan_settings, line, now, days=1).days) == 1
    assert len(washing_plan(db, plan_settings, line, now, days=56).days) == 56


# --- the pages ----------------------------------------------------------------------------


@pytest.fixture
def late_order(db, settings, order_in):
    """Due tomorrow with more cups than two days hold: late, whatever weekday the run is."""
    today = datetime.now(settings.zone).date()
    main_line(db, settings).capacity_per_day = 1000
    return order_in(OrderStatus.CONFIRMED, today, today + DAY, {"ECO33": 3000})


def test_the_planner_sees_late_orders_in_red_with_words_and_links(client, make_user, late_order):
    login(client, make_user(Role.PLANNER))
    client.get("/language/en")
    page = client.get("/office/washing-plan?days=21")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Orders that will be late" in html
    assert f'href="/office/orders/{late_order.id}"' in html
    assert " of 3,000 cups late." in html
    assert 'class="notice notice-error late-orders"' in html and "✖" in html
    assert html.count('<tr class="') >= 21 + 8  # 21 days ahead, 7 past days and today
    assert 'aria-current="page">Washing plan<' in html


def test_the_supervisor_sees_the_plan_on_the_tablet_without_office_links(
    client, make_user, late_order
):
    login(client, make_user(Role.SUPERVISOR))
    page = client.get("/line/plan")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'class="plan plan-tablet"' in html
    assert late_order.reference in html and "/office/orders/" not in html
    assert client.get("/office/washing-plan").status_code == 403


@pytest.mark.parametrize("role", [Role.ORGANISER, Role.COURIER])
def test_organisers_and_couriers_may_not_see_the_plan(client, make_user, role):
    login(client, make_user(role))
    assert client.get("/office/washing-plan").status_code == 403
    assert client.get("/line/plan").status_code == 403


def test_the_plan_asks_for_a_login(client):
    for path in ("/office/washing-plan", "/line/plan"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize("days", ["0", "57", "abc", "-1"])
def test_a_bad_number_of_days_is_a_clear_error_page(client, make_user, days):
    login(client, make_user(Role.PLANNER))
    client.get("/language/en")
    page = client.get(f"/office/washing-plan?days={days}")
    assert page.status_code == 422
    assert "Plan from 1 to 56 days ahead." in page.get_data(as_text=True)


def test_the_plan_page_speaks_dutch(client, make_user, late_order):
    login(client, make_user(Role.SUPERVISOR))
    client.get("/language/nl")
    html = client.get("/line/plan").get_data(as_text=True)
    assert "Wasplanning" in html


def test_admins_see_the_office_page(client, make_user):
    login(client, make_user(Role.ADMIN))
    assert client.get("/office/washing-plan").status_code == 200


def test_the_day_the_clocks_go_forward_reads_its_own_roll_up(db, plan_settings, line):
    zone = plan_settings.zone
    sunday = date(2027, 3, 28)  # 23 hours in Brussels
    for day, washed in ((sunday - DAY, 111), (sunday, 222), (sunday + DAY, 333)):
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=zone)
        db.add(
            TagRollup(
                line_id=line.id,
                tag="cups_washed",
                resolution=Resolution.DAY,
                bucket=bucket_start(noon, Resolution.DAY, zone),
                count=1,
                total=washed,
                minimum=0,
                maximum=washed,
                last=0,
            )
        )
    db.flush()
    now = datetime(2027, 3, 30, 0, 30, tzinfo=zone)  # just after midnight, still 29 March in UTC
    history = {past.day: past.washed for past in washing_plan(db, plan_settings, line, now).history}
    assert (history[sunday - DAY], history[sunday], history[sunday + DAY]) == (111, 222, 333)
    assert history[date(2027, 3, 30)] == 0
