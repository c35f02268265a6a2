"""Reading plan and decoding of the register map, without sockets."""

from __future__ import annotations

import tomllib

import pytest

from plc.registers import decode_block, decode_registers, encode_value, plan_reads
from wash_ops.config import ConfigError
from wash_ops.telemetry.register_map import (
    DEFAULT_REGISTER_MAP,
    Table,
    Tag,
    load_register_map,
    parse_register_map,
)


@pytest.fixture
def raw_map():
    return tomllib.loads(DEFAULT_REGISTER_MAP.read_text())


def test_default_map_is_read_in_one_request():
    blocks = plan_reads(load_register_map(environ={}))
    assert len(blocks) == 1
    assert (blocks[0].table, blocks[0].address, blocks[0].count) == (Table.HOLDING, 0, 18)


def test_blocks_split_at_gaps_and_at_125_registers(raw_map):
    raw_map["device"]["max_gap"] = 0
    raw_map["tags"][4]["address"] = 200  # speed, far away
    raw_map["tags"].append(
        {"name": "far", "table": "holding", "address": 400, "type": "uint16", "role": "gauge"}
    )
    raw_map["tags"].append(
        {"name": "far_end", "table": "holding", "address": 524, "type": "uint16", "role": "gauge"}
    )
    raw_map["tags"].append(
        {"name": "door", "table": "coil", "address": 3, "type": "bool", "role": "gauge"}
    )
    blocks = plan_reads(parse_register_map(raw_map))
    spans = [(b.table, b.address, b.count) for b in blocks]
    assert (Table.HOLDING, 200, 1) in spans
    assert (Table.HOLDING, 400, 1) in spans and (
        Table.HOLDING,
        524,
        1,
    ) in spans  # 125 apart: two reads
    assert (Table.COIL, 3, 1) in spans
    assert all(b.count <= 125 for b in blocks)


@pytest.mark.parametrize("word_order", ["big", "little"])
@pytest.mark.parametrize(
    ("type_", "value"), [("uint32", 4_000_000_123), ("int32", -123_456), ("float32", 82.5)]
)
def test_32_bit_values_round_trip_in_either_word_order(word_order, type_, value):
    tag = Tag(
        name="probe", table="holding", address=0, type=type_, word_order=word_order, role="gauge"
    )
    words = encode_value(tag, value)
    assert len(words) == 2
    assert decode_registers(tag, words) == pytest.approx(value)


def test_word_order_matters(raw_map):
    tag = load_register_map(environ={}).tag("cups_washed")
    assert encode_value(tag, 0x0001_0002) == [1, 2]
    raw_map["tags"][9]["word_order"] = "little"
    little = parse_register_map(raw_map).tag("cups_washed")
    assert encode_value(little, 0x0001_0002) == [2, 1]


def test_decode_scales_gauges_and_keeps_counters_raw():
    register_map = load_register_map(environ={})
    block = plan_reads(register_map)[0]
    words = [0] * block.count
    words[7] = 845  # rinse temperature in 0.1 °C
    words[16:18] = [0, 12345]  # energy counter, raw 0.01 kWh units
    words[6] = 0xFFFF  # wash temperature int16 -1 -> -0.1 °C
    values = decode_block(block, words)
    assert values["rinse_temperature"] == pytest.approx(84.5)
    assert values["wash_temperature"] == pytest.approx(-0.1)
    assert values["energy"] == 12345 and isinstance(values["energy"], int)
    with pytest.raises(ValueError):
        decode_block(block, words[:5])


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda m: m["tags"][5].update(type="uint64"), "speed_setpoint"),
        (lambda m: m["tags"][10].update(address=11), "cups_rejected"),
        (lambda m: m["tags"].pop(3), "heartbeat"),
        (lambda m: m["tags"][0].update(role="gauge"), "state"),
        (lambda m: m["tags"][1].update(table="coil"), "stop_reason"),
        (lambda m: m["tags"][9].update(type="float32"), "cups_washed"),
        (lambda m: m["tags"][2].update(colour="red"), "alarm_word"),
        (lambda m: m["alarms"].append({"bit": 0, "code": "again", "severity": "low"}), "bit 0"),
    ],
)
def test_bad_maps_are_refused_naming_the_tag(raw_map, change, named):
    change(raw_map)
    with pytest.raises(ConfigError) as caught:
        parse_register_map(raw_map)
    assert named in str(caught.value)


def test_poll_ticks_stay_on_a_fixed_grid():
    from plc.poller import next_tick

    assert next_tick(10.0, 0.1, 10.05) == pytest.approx(10.1)  # on time: the next grid point
    assert next_tick(10.0, 0.1, 10.101) == pytest.approx(10.2)  # waits overshoot: no drift
    assert next_tick(10.0, 0.1, 10.35) == pytest.approx(10.4)  # an overrun skips missed ticks
