"""The line simulator: the model's day (no sockets), then the Modbus server over real TCP."""

from __future__ import annotations

import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pymodbus.client import ModbusTcpClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ModbusException

from plc.line_model import ALARM_BITS, DayPlan, LineModel, LineProfile, StopReason
from plc.simulator import RunningSimulator, main, start_simulator
from wash_ops.telemetry.packml import PackMLState
from wash_ops.telemetry.register_map import (
    DEFAULT_REGISTER_MAP,
    RegisterMap,
    Tag,
    load_register_map,
    parse_register_map,
)

BRUSSELS = ZoneInfo("Europe/Brussels")
DAY = datetime(2026, 6, 15, tzinfo=BRUSSELS)  # a Monday
ONE_DAY = timedelta(days=1)
MID_MORNING = DAY.replace(hour=8)  # executing: no event of seed 0 near 08:00 on that day
CAPACITY = 50_000
FAST = 600.0  # ten simulated minutes a real second: about 540 cups a real second


def at(hour: int, minute: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 5.0) -> object:
    """Poll until ``condition`` is truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


# --- the model: a whole day, no sockets --------------------------------------------------------


def run_day(seed: int = 0, every_s: int = 5) -> tuple[LineModel, list[dict], DayPlan]:
    """A day from midnight, sampled every ``every_s`` simulated seconds, and its plan."""
    model = LineModel(seed=seed, start=DAY)
    plan = model.plan
    samples = []
    for _ in range(24 * 3600 // every_s):
        model.advance(every_s)
        samples.append({**model.values(), "at": model.now, "alarms": model.active_alarms})
    return model, samples, plan


@pytest.fixture(scope="module")
def day() -> tuple[LineModel, list[dict], DayPlan]:
    return run_day()


def stable_phases(samples: list[dict]) -> list[tuple[PackMLState, StopReason]]:
    """The wait states the line passed through, in order, without repeats."""
    waiting = {PackMLState.STOPPED, PackMLState.EXECUTE, PackMLState.HELD, PackMLState.SUSPENDED}
    phases: list[tuple[PackMLState, StopReason]] = []
    for sample in samples:
        phase = (PackMLState(sample["state"]), StopReason(sample["stop_reason"]))
        if phase[0] in waiting and (not phases or phases[-1] != phase):
            phases.append(phase)
    return phases


def test_a_day_runs_through_the_script(day) -> None:
    _, samples, _ = day
    phases = stable_phases(samples)
    stopped_night = (PackMLState.STOPPED, StopReason.NOT_SCHEDULED)
    execute = (PackMLState.EXECUTE, StopReason.NONE)
    jam = (PackMLState.HELD, StopReason.JAM)
    lunch = (PackMLState.STOPPED, StopReason.BREAK)
    assert phases[0] == stopped_night and phases[-1] == stopped_night
    assert phases.index(execute) < phases.index(jam) < phases.index(lunch)
    assert execute in phases[phases.index(lunch) :]
    assert (PackMLState.SUSPENDED, StopReason.MICRO_STOP) in phases
    executing = [s["at"] for s in samples if s["state"] == PackMLState.EXECUTE]
    assert at(6) <= executing[0] <= at(6, 2) and at(21, 58) <= executing[-1] <= at(22)
    held = [s for s in samples if s["stop_reason"] == StopReason.JAM]
    assert all("jam" in s["alarms"] for s in held if s["state"] == PackMLState.HELD)


def test_the_final_rinse_stays_hot_except_in_the_scripted_dip(day) -> None:
    _, samples, plan = day
    dip = plan.rinse_dip
    cold = [s for s in samples if s["rinse_temperature"] < 82.0]
    assert cold, "the scripted dip is missing"
    for sample in cold:
        assert dip.start <= sample["at"] <= dip.end + timedelta(minutes=5)
        assert "rinse_temperature_low" in sample["alarms"]
        assert sample["alarm_word"] & 1 << ALARM_BITS["rinse_temperature_low"]
    alarmed = [s["at"] for s in samples if "rinse_temperature_low" in s["alarms"]]
    assert max(alarmed) <= dip.end + timedelta(minutes=6)


def test_detergent_runs_low_and_is_refilled(day) -> None:
    _, samples, _ = day
    low = [i for i, s in enumerate(samples) if "low_detergent" in s["alarms"]]
    assert low, "no low-detergent alarm during the day"
    assert all(samples[i]["detergent_level"] < 15 for i in low)
    after = samples[low[-1] + 1]
    assert after["detergent_level"] > 90 and "low_detergent" not in after["alarms"]


def test_a_day_washes_near_capacity_with_one_percent_rejected(day) -> None:
    model, _, _ = day
    totals = model.totals
    assert 0.9 * CAPACITY <= totals.cups_washed <= CAPACITY
    assert 0.008 <= totals.cups_rejected / totals.cups_washed <= 0.012
    assert totals.water_ml == totals.cups_washed * 250
    idle_kwh = 6.0 * 16 + 2.0 * 8
    assert totals.energy_wh / 1000 == pytest.approx(0.015 * totals.cups_washed + idle_kwh, rel=0.05)


def test_the_same_seed_gives_the_same_line_whatever_the_steps() -> None:
    one, other = LineModel(seed=3, start=at(9, 30)), LineModel(seed=3, start=at(9, 30))
    for _ in range(3 * 3600):
        one.advance(1)
    for step in (0.5, 7.25, 1000, 2.25, 9790):  # exact in binary: 10,800 s in all
        other.advance(step)
    assert one.now == other.now
    assert one.values() == other.values() and one.totals == other.totals
    assert LineModel(seed=4, start=at(9, 30)).plan != one.plan


def test_a_model_started_mid_shift_is_producing_and_a_day_off_stays_stopped() -> None:
    assert LineModel(seed=0, start=MID_MORNING).state is PackMLState.EXECUTE
    saturday = at(5) + timedelta(days=5)
    weekend = LineModel(LineProfile(working_days=frozenset({1, 2, 3, 4, 5})), start=saturday)
    weekend.advance(8 * 3600)
    assert weekend.state is PackMLState.STOPPED and weekend.totals.cups_washed == 0


def test_a_closed_date_stays_stopped_and_an_extra_date_runs(settings) -> None:
    from plc.history import default_profile

    christmas = datetime(2026, 12, 25, 5, 0, tzinfo=BRUSSELS)  # a Friday, closed in the config
    closed = LineModel(default_profile(settings), start=christmas)
    closed.advance(8 * 3600)
    assert closed.state is PackMLState.STOPPED and closed.totals.cups_washed == 0
    sunday = datetime(2026, 12, 6, 5, 0, tzinfo=BRUSSELS)
    demo = LineModel(default_profile(settings, also_on=sunday.date()), start=sunday)
    demo.advance(8 * 3600)
    assert demo.totals.cups_washed > 0
    next_sunday = LineModel(
        default_profile(settings, also_on=sunday.date()), start=sunday + 7 * ONE_DAY
    )
    next_sunday.advance(8 * 3600)
    assert next_sunday.totals.cups_washed == 0  # the extra date is one date, not every Sunday


def test_a_profile_from_the_settings_fits_the_capacity(settings) -> None:
    profile = LineProfile.from_settings(settings)
    assert profile.zone == settings.zone and profile.shift_start == settings.line.shift_start
    assert profile.speed_setpoint * 15.5 <= settings.line.capacity_per_day


# --- the server over TCP -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def register_map() -> RegisterMap:
    return load_register_map(environ={})


@pytest.fixture
def serve(register_map) -> Iterator[Callable[..., RunningSimulator]]:
    """Start simulators on free ports; each is stopped and its thread gone after the test."""
    running: list[RunningSimulator] = []

    def start(register_map: RegisterMap = register_map, **options) -> RunningSimulator:
        options.setdefault("start", MID_MORNING)
        running.append(start_simulator(register_map, port=0, **options))
        return running[-1]

    yield start
    for simulator in running:
        simulator.stop()
    assert not any(simulator.thread.is_alive() for simulator in running)
    assert not [t for t in threading.enumerate() if t.name == "line-simulator"]


@pytest.fixture
def connect() -> Iterator[Callable[[RunningSimulator], ModbusTcpClient]]:
    clients: list[ModbusTcpClient] = []

    def make(running: RunningSimulator) -> ModbusTcpClient:
        client = ModbusTcpClient(running.host, port=running.port, timeout=1, retries=0)
        assert client.connect()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def default_map_data() -> dict:
    with DEFAULT_REGISTER_MAP.open("rb") as handle:
        return tomllib.load(handle)


def decode(client: ModbusTcpClient, tag: Tag, registers: list[int]) -> float:
    data_type = getattr(client.DATATYPE, tag.type.value.upper())
    raw = client.convert_from_registers(registers, data_type, word_order=tag.word_order)
    return raw * tag.scale + tag.offset


def read_tags(client: ModbusTcpClient, register_map: RegisterMap) -> dict[str, float]:
    """All holding-register tags in one request, decoded per the map (as a poller would)."""
    end = max(tag.end for tag in register_map.tags)
    response = client.read_holding_registers(0, count=end, device_id=register_map.device.device_id)
    assert not response.isError(), response
    registers = response.registers
    return {
        tag.name: decode(client, tag, registers[tag.address : tag.end]) for tag in register_map.tags
    }


def read_tag(client: ModbusTcpClient, tag: Tag) -> float:
    response = client.read_holding_registers(tag.address, count=tag.width, device_id=1)
    assert not response.isError(), response
    return decode(client, tag, response.registers)


def test_registers_decode_to_plausible_values(serve, connect, register_map) -> None:
    running = serve()
    client = connect(running)
    running.simulator.pause()
    values = read_tags(client, register_map)
    for tag in register_map.tags:
        assert tag.in_range(values[tag.name]), (tag.name, values[tag.name])
    assert values["state"] == PackMLState.EXECUTE and values["stop_reason"] == 0
    assert values["alarm_word"] == 0
    assert values["speed_setpoint"] == 3220
    assert 0.9 * 3220 <= values["speed"] <= 3220
    assert 82.0 <= values["rinse_temperature"] <= 90 and 55 <= values["wash_temperature"] <= 65
    assert 0 < values["detergent_level"] <= 100
    truth = running.simulator.truth()
    assert all(
        values[name] == pytest.approx(raw * register_map.tag(name).scale)
        for name, raw in truth.items()
    )
    snapshot = running.simulator.snapshot()
    assert values["rinse_temperature"] == pytest.approx(snapshot["rinse_temperature"] / 10)


def test_with_a_time_factor_the_shift_starts_and_counters_rise(
    serve, connect, register_map
) -> None:
    running = serve(start=at(5, 55), time_factor=900)
    client = connect(running)
    cups, state = register_map.tag("cups_washed"), register_map.tag("state")
    assert read_tag(client, state) in (PackMLState.IDLE, PackMLState.STARTING)
    wait_for(lambda: read_tag(client, state) == PackMLState.EXECUTE, "the line to execute")
    first = wait_for(lambda: read_tag(client, cups), "cups to be counted")
    wait_for(lambda: read_tag(client, cups) > first, "the counter to go on rising")
    for name in ("cups_rejected", "water", "energy"):
        assert read_tag(client, register_map.tag(name)) >= 0


def test_the_heartbeat_counts_seconds(serve, connect, register_map) -> None:
    running = serve()
    client = connect(running)
    heartbeat = register_map.tag("heartbeat")
    before, began = read_tag(client, heartbeat), time.monotonic()
    wait_for(lambda: read_tag(client, heartbeat) >= before + 2, "two heartbeats", timeout=4)
    assert 1.0 <= time.monotonic() - began <= 3.5


def test_a_frozen_heartbeat_stays_put_until_thawed(serve, connect, register_map) -> None:
    running = serve(heartbeat_s=0.02)
    client = connect(running)
    heartbeat, simulator = register_map.tag("heartbeat"), running.simulator
    simulator.freeze_heartbeat(True)
    frozen, due = read_tag(client, heartbeat), simulator.heartbeats_due()
    wait_for(lambda: simulator.heartbeats_due() >= due + 10, "ten heartbeat periods")
    assert read_tag(client, heartbeat) == frozen
    simulator.freeze_heartbeat(False)
    wait_for(lambda: read_tag(client, heartbeat) > frozen, "the heartbeat to move again")


def test_reset_counters_restarts_the_registers_but_not_the_truth(
    serve, connect, register_map
) -> None:
    running = serve(time_factor=FAST)
    client, simulator = connect(running), running.simulator
    cups = register_map.tag("cups_washed")
    wait_for(lambda: read_tag(client, cups) >= 200, "some cups")
    simulator.pause()
    before = simulator.truth()
    simulator.reset_counters()
    assert all(read_tag(client, register_map.tag(name)) == 0 for name in before)
    assert simulator.truth() == before
    simulator.resume()
    wait_for(lambda: read_tag(client, cups) > 0, "counting after the reset")
    simulator.pause()
    after = simulator.truth()
    assert after["cups_washed"] > before["cups_washed"]
    assert read_tag(client, cups) == after["cups_washed"] - before["cups_washed"]


def test_a_jumped_counter_rolls_over_while_the_truth_runs_on(serve, connect, register_map) -> None:
    running = serve(time_factor=FAST)
    client, simulator = connect(running), running.simulator
    cups, near_top = register_map.tag("cups_washed"), 2**32 - 100
    simulator.pause()
    jumped_at = simulator.jump_counter("cups_washed", near_top)
    assert read_tag(client, cups) == near_top
    simulator.resume()
    wait_for(lambda: read_tag(client, cups) < 2**31, "the counter to roll over")
    simulator.pause()
    register, truth = read_tag(client, cups), simulator.truth()["cups_washed"]
    assert 0 < register < 100_000
    assert (register - near_top) % 2**32 == truth - jumped_at
    with pytest.raises(ValueError):
        simulator.jump_counter("speed", 1)


def test_little_word_order_and_another_device_id_follow_the_map(serve, connect) -> None:
    data = default_map_data()
    data["device"]["device_id"] = 7
    for entry in data["tags"]:
        if entry["name"] == "cups_washed":
            entry["word_order"] = "little"
    little = parse_register_map(data)
    running = serve(little, time_factor=FAST)
    client, simulator = connect(running), running.simulator
    cups = little.tag("cups_washed")
    simulator.jump_counter("cups_washed", 0x0001_FFFF)
    simulator.pause()
    response = client.read_holding_registers(cups.address, count=2, device_id=7)
    assert response.registers[1] >= 1  # high word second
    assert decode(client, cups, response.registers) == simulator.snapshot()["cups_washed"]


def test_other_tables_bits_and_floats_follow_the_map(serve, connect) -> None:
    data = default_map_data()
    for entry in data["tags"]:
        if entry["name"] == "rinse_temperature":
            entry.update(table="input", address=100, type="float32", scale=1.0, word_order="little")
    data["tags"] += [
        {"name": "jam", "table": "discrete", "address": 3, "type": "bool", "role": "gauge"},
        {"name": "low_detergent", "table": "coil", "address": 17, "type": "bool", "role": "gauge"},
    ]
    other = parse_register_map(data)
    client = connect(serve(other, start=at(10, 25)))  # seed 0 jams from 10:20 to 10:34
    bits = client.read_discrete_inputs(0, count=8, device_id=1).bits[:8]
    assert bits == [False, False, False, True, False, False, False, False]
    assert client.read_coils(17, count=1, device_id=1).bits[0] is False
    rinse = client.read_input_registers(100, count=2, device_id=1).registers
    value = client.convert_from_registers(rinse, client.DATATYPE.FLOAT32, word_order="little")
    assert 82.0 <= value <= 90.0
    alarm_word = read_tag(client, other.tag("alarm_word"))
    assert int(alarm_word) & 1 << 2  # jam, on the bit the map gives it


def test_exception_mode_answers_every_read_with_an_exception(serve, connect, register_map) -> None:
    running = serve()
    client, simulator = connect(running), running.simulator
    simulator.answer_with_exceptions(True)
    response = client.read_holding_registers(0, count=4, device_id=1)
    assert response.isError() and response.exception_code == ExcCodes.DEVICE_BUSY
    simulator.answer_with_exceptions(True, code=ExcCodes.DEVICE_FAILURE)
    assert (
        client.read_holding_registers(0, count=4, device_id=1).exception_code
        == ExcCodes.DEVICE_FAILURE
    )
    simulator.answer_with_exceptions(False)
    assert read_tag(client, register_map.tag("state")) == PackMLState.EXECUTE


def test_garbage_puts_nonsense_in_a_tag_until_cleared(serve, connect, register_map) -> None:
    running = serve()
    client, simulator = connect(running), running.simulator
    rinse, cups = register_map.tag("rinse_temperature"), register_map.tag("cups_washed")
    simulator.garbage("rinse_temperature", 0x7FFF)
    simulator.garbage("cups_washed", 0xFFFF_FFFF)
    assert read_tag(client, rinse) == pytest.approx(3276.7)
    assert not rinse.in_range(read_tag(client, rinse))
    assert read_tag(client, cups) == 0xFFFF_FFFF
    simulator.garbage("rinse_temperature", None)
    simulator.garbage("cups_washed", None)
    assert rinse.in_range(read_tag(client, rinse)) and read_tag(client, cups) < 1000


def test_dropped_connections_fail_then_a_reconnect_works(serve, connect, register_map) -> None:
    running = serve()
    client, simulator = connect(running), running.simulator
    state = register_map.tag("state")
    assert read_tag(client, state) == PackMLState.EXECUTE
    assert simulator.drop_connections() == 1
    assert simulator.connection_count() == 0
    try:
        response = client.read_holding_registers(0, count=1, device_id=1)
    except ModbusException:
        pass  # the usual outcome: the connection was closed under the client
    else:
        assert response.isError(), "the dropped connection still answered"
    client.close()
    assert client.connect()
    assert read_tag(client, state) == PackMLState.EXECUTE
    wait_for(lambda: simulator.connection_count() == 1, "the server to see the reconnect")


def test_writes_and_unmapped_tables_are_refused(serve, connect) -> None:
    client = connect(serve())
    assert client.write_register(0, 9, device_id=1).exception_code == ExcCodes.ILLEGAL_ADDRESS
    assert (
        client.read_input_registers(0, count=1, device_id=1).exception_code
        == ExcCodes.ILLEGAL_ADDRESS
    )
    assert client.read_coils(0, count=1, device_id=1).exception_code == ExcCodes.ILLEGAL_ADDRESS
    assert (
        client.read_holding_registers(18, count=1, device_id=1).exception_code
        == ExcCodes.ILLEGAL_ADDRESS
    )


def test_a_busy_port_is_reported(serve, register_map) -> None:
    running = serve()
    with pytest.raises(OSError, match="cannot serve"):
        start_simulator(register_map, port=running.port)
    assert not [
        t for t in threading.enumerate() if t.name == "line-simulator" and t is not running.thread
    ]


def test_main_serves_for_a_while_and_reports_a_bad_map(tmp_path, capsys) -> None:
    assert main(["--port", "0", "--time-factor", "60", "--duration", "0.3", "--seed", "2"]) == 0
    missing = tmp_path / "nowhere.toml"
    assert main(["--register-map", str(missing)]) == 2
    assert "register map not found" in capsys.readouterr().err
    assert not [t for t in threading.enumerate() if t.name == "line-simulator"]
