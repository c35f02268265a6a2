"""Sparkplug B in the domain, without a broker: devices (DBIRTH/DDATA/DDEATH), data before any
birth, unknown aliases, signed and float values, repeated data."""

from __future__ import annotations

from sqlalchemy import select

from tests.test_mqtt_faults import (
    BOOLEAN,
    DOUBLE,
    INT64,
    UINT32,
    _metric,
    _ms,
    _payload,
    nbirth,
    ndata,
)
from wash_ops.db import utcnow
from wash_ops.network.models import DeadLetter, NetworkSource
from wash_ops.network.services import Incoming, NetworkIngest
from wash_ops.network.sparkplug import host_state, metric_value, parse_host_state
from wash_ops.network.sparkplug_proto import sparkplug_b_pb2 as pb
from wash_ops.telemetry.models import LineReading
from wash_ops.telemetry.register_map import load_register_map

NODE = "spBv1.0/wash-it/{}/GEN-L1"
DEVICE = "spBv1.0/wash-it/{}/GEN-L1/rinse-unit"
INT16 = 2


def store(db, settings, ingest, *messages):
    now = utcnow()
    return ingest.store(db, [Incoming(topic, payload, now) for topic, payload in messages])


def values(db, tag):
    value = LineReading.gauge(tag)
    query = select(value).where(value.is_not(None)).order_by(LineReading.at)
    return list(db.scalars(query))


def test_a_device_births_sends_data_and_dies(db, settings):
    ingest = NetworkIngest(settings, load_register_map(environ={}))
    dbirth = _payload(
        _ms(1),
        1,
        [
            _metric("Rinse/Temperature", 7, DOUBLE, double=84.0),
            _metric("Line/Speed", 8, UINT32, uint=10),
        ],
    )
    ddata = _payload(_ms(2), 2, [_metric(None, 7, DOUBLE, double=85.5)])
    ddeath = _payload(_ms(3), 3, [])
    result = store(
        db,
        settings,
        ingest,
        (NODE.format("NBIRTH"), nbirth(_ms(0), bd_seq=1)),
        (DEVICE.format("DBIRTH"), dbirth),
        (DEVICE.format("DDATA"), ddata),
        (DEVICE.format("DDEATH"), ddeath),
    )
    assert (result.stored, result.dead, result.commands) == (3, {}, [])
    assert values(db, "rinse_temperature") == [84.0, 85.5]
    device = db.scalar(
        select(NetworkSource).where(NetworkSource.key == "sparkplug:wash-it/GEN-L1/rinse-unit")
    )
    assert device.dead_since is not None and device.messages == 2


def test_data_before_a_birth_and_unknown_aliases_ask_for_a_rebirth_once(db, settings):
    ingest = NetworkIngest(settings, load_register_map(environ={}))
    result = store(
        db,
        settings,
        ingest,
        (NODE.format("NDATA"), ndata(_ms(1), 5, 3600, 62.5, 510)),
        (NODE.format("NDATA"), ndata(_ms(2), 6, 3600, 62.5, 520)),
    )
    assert result.dead == {"unknown_metric": 2}
    assert [command.topic for command in result.commands] == ["spBv1.0/wash-it/NCMD/GEN-L1"]
    request = pb.Payload.FromString(result.commands[0].payload)
    assert request.metrics[0].name == "Node Control/Rebirth" and request.metrics[0].boolean_value
    letter = db.scalar(select(DeadLetter))
    assert "alias 1 is not in the birth certificate" in letter.detail
    # After the birth the aliases are known, and a repeated message is not stored twice.
    result = store(
        db,
        settings,
        ingest,
        (NODE.format("NBIRTH"), nbirth(_ms(3), bd_seq=2)),
        (NODE.format("NDATA"), ndata(_ms(4), 1, 3650, 63.0, 540)),
        (NODE.format("NDATA"), ndata(_ms(4), 2, 3650, 63.0, 540)),
    )
    assert (result.stored, result.duplicates, result.dead) == (2, 1, {})
    assert values(db, "speed") == [3500, 3650]


def test_a_birth_without_bdseq_or_with_a_bad_value_is_a_dead_letter(db, settings):
    ingest = NetworkIngest(settings, load_register_map(environ={}))
    no_bdseq = _payload(_ms(0), 0, [_metric("Line/Speed", 1, UINT32, uint=1)])
    too_hot = _payload(
        _ms(0),
        0,
        [
            _metric("bdSeq", None, INT64, long=1),
            _metric("Wash/Temperature", 2, DOUBLE, double=500.0),
        ],
    )
    not_first = _payload(_ms(0), 9, [_metric("bdSeq", None, INT64, long=1)])
    result = store(
        db,
        settings,
        ingest,
        (NODE.format("NBIRTH"), no_bdseq),
        (NODE.format("NBIRTH"), too_hot),
        (NODE.format("NBIRTH"), not_first),
    )
    assert result.dead == {"bad_sparkplug": 2, "out_of_range": 1}


def test_metric_values_follow_their_datatype():
    metric = pb.Payload.Metric(datatype=INT16, int_value=2**32 - 5)
    assert metric_value(metric) == -5
    assert metric_value(pb.Payload.Metric(datatype=INT64, long_value=2**64 - 3)) == -3
    assert metric_value(pb.Payload.Metric(datatype=UINT32, int_value=2**32 - 1)) == 2**32 - 1
    metric = pb.Payload.Metric(datatype=BOOLEAN, boolean_value=True)
    assert metric_value(metric) == 1
    metric = pb.Payload.Metric(datatype=9, float_value=61.25)
    assert metric_value(metric) == 61.25
    assert metric_value(pb.Payload.Metric(datatype=DOUBLE, is_null=True)) is None
    assert metric_value(pb.Payload.Metric(datatype=12, string_value="x")) is None


def test_metrics_with_properties_data_sets_and_templates_decode_and_the_numbers_are_stored(
    db, settings
):
    """The full Sparkplug B payload (specification 3.0): metadata, property sets, data sets
    and templates decode; numeric metrics mapped onto tags are stored, the rest is left."""
    birth = pb.Payload(timestamp=_ms(0), seq=0)
    birth.metrics.add(name="bdSeq", datatype=pb.Int64, long_value=3)
    speed = birth.metrics.add(name="Line/Speed", alias=1, datatype=pb.UInt32, int_value=3400)
    speed.properties.keys.append("engUnit")
    speed.properties.values.add(type=pb.String, string_value="cups/h")
    speed.metadata.description = "conveyor speed"
    recipe = birth.metrics.add(name="Line/Recipe", alias=2, datatype=pb.DataSet)
    recipe.dataset_value.num_of_columns = 2
    recipe.dataset_value.columns.extend(["step", "seconds"])
    recipe.dataset_value.types.extend([pb.String, pb.UInt32])
    row = recipe.dataset_value.rows.add()
    row.elements.add(string_value="wash")
    row.elements.add(int_value=40)
    dryer = birth.metrics.add(name="Dryer", alias=3, datatype=pb.Template)
    dryer.template_value.template_ref = "Dryer"
    dryer.template_value.metrics.add(name="Fan", datatype=pb.Boolean, boolean_value=True)
    birth.metrics.add(name="Operator", alias=4, datatype=pb.String, string_value="Els")
    data = pb.Payload(timestamp=_ms(1), seq=1)
    data.metrics.add(alias=1, datatype=pb.UInt32, int_value=3550)
    data.metrics.add(alias=2, datatype=pb.DataSet).dataset_value.num_of_columns = 0
    wire = birth.SerializeToString()
    decoded = pb.Payload.FromString(wire)
    assert list(decoded.metrics[2].dataset_value.columns) == ["step", "seconds"]
    assert decoded.metrics[2].dataset_value.rows[0].elements[1].int_value == 40
    assert decoded.metrics[3].template_value.metrics[0].boolean_value
    assert decoded.metrics[1].properties.values[0].string_value == "cups/h"
    assert metric_value(decoded.metrics[2]) is None and metric_value(decoded.metrics[4]) is None

    ingest = NetworkIngest(settings, load_register_map(environ={}))
    result = store(
        db,
        settings,
        ingest,
        (NODE.format("NBIRTH"), wire),
        (NODE.format("NDATA"), data.SerializeToString()),
    )
    assert (result.stored, result.dead, result.commands) == (2, {}, [])
    assert values(db, "speed") == [3400.0, 3550.0]


def test_a_host_state_is_read_only_when_it_is_one():
    """What an edge node accepts on a primary host's STATE topic: the specification's JSON,
    nothing else (a bad one is ignored, the node keeps its last known state)."""
    assert parse_host_state(host_state(True, 1765012345678)) == (True, 1765012345678)
    assert parse_host_state(b'{"online": false, "timestamp": 5}') == (False, 5)
    for bad in (
        b"",
        b"\xff\xfe",
        b"[" * 5000,
        b"ONLINE",
        b"[true, 5]",
        b'{"online": "yes", "timestamp": 5}',
        b'{"online": 1, "timestamp": 5}',
        b'{"online": true, "timestamp": 5.5}',
        b'{"online": true, "timestamp": "5"}',
        b'{"online": true}',
    ):
        assert parse_host_state(bad) is None, bad
