"""The [mqtt] section: defaults, environment overrides, and bad values stopped with the key."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT
from wash_ops.config import ConfigError, load_settings
from wash_ops.network.services import NetworkIngest
from wash_ops.telemetry.register_map import load_register_map


def test_defaults_and_the_own_line_when_no_network_lines_are_listed():
    settings = load_settings(environ={})
    assert settings.mqtt.enabled is False
    assert (settings.mqtt.port, settings.mqtt.topic_root) == (1883, "wash-ops")
    assert settings.mqtt.queue_size > settings.mqtt.receive_maximum
    [own] = settings.mqtt_lines
    assert (own.site, own.line, own.line_code) == ("GEN", "L1", "L1")
    assert {entry.tag for entry in settings.mqtt.sparkplug_metrics} == {
        tag.name for tag in load_register_map(environ={}).tags
    }


def test_credentials_and_broker_come_from_the_environment():
    settings = load_settings(
        environ={
            "WASH_OPS_MQTT__HOST": "broker.wash-it.be",
            "WASH_OPS_MQTT__PORT": "8883",
            "WASH_OPS_MQTT__TLS": "true",
            "WASH_OPS_MQTT__USERNAME": "gentbrugge",
            "WASH_OPS_MQTT__PASSWORD": "s3cret-from-the-vault",
        }
    )
    assert (settings.mqtt.host, settings.mqtt.port, settings.mqtt.tls) == (
        "broker.wash-it.be",
        8883,
        True,
    )
    assert settings.mqtt.username == "gentbrugge"


@pytest.mark.parametrize(
    ("environ", "key", "message"),
    [
        ({"WASH_OPS_MQTT__PORT": "0"}, "mqtt.port", "greater than or equal to 1"),
        ({"WASH_OPS_MQTT__PORT": "mqtt"}, "mqtt.port", "valid integer"),
        ({"WASH_OPS_MQTT__TOPIC_ROOT": "wash/ops"}, "mqtt.topic_root", "pattern"),
        ({"WASH_OPS_MQTT__CLIENT_ID": "a b"}, "mqtt.client_id", "pattern"),
        ({"WASH_OPS_MQTT__MAX_PAYLOAD_BYTES": "10"}, "mqtt.max_payload_bytes", "256"),
        ({"WASH_OPS_MQTT__QUEUE_SIZE": "500"}, "mqtt", "queue_size must be larger"),
        ({"WASH_OPS_MQTT__USERNAME": "only-a-user"}, "mqtt", "username and password go together"),
        ({"WASH_OPS_MQTT__RECONNECT_MAX_S": "0.1"}, "mqtt", "reconnect_max_s"),
        ({"WASH_OPS_MQTT__PUBLISH_FORMAT": "xml"}, "mqtt.publish_format", "json"),
        ({"WASH_OPS_MQTT__STORE_PROCESS": "maybe"}, "mqtt.store_process", "valid boolean"),
        ({"WASH_OPS_MQTT__BATCH_SIZE": "0"}, "mqtt.batch_size", "greater than or equal to 1"),
        ({"WASH_OPS_MQTT__SPARKPLUG_HOST_ID": "host/1"}, "mqtt.sparkplug_host_id", "pattern"),
        ({"WASH_OPS_MQTT__SPARKPLUG_HOST_ID": ""}, "mqtt.sparkplug_host_id", "pattern"),
        (
            {"WASH_OPS_MQTT__SPARKPLUG_PRIMARY_HOST": "#"},
            "mqtt.sparkplug_primary_host",
            "pattern",
        ),
        ({"WASH_OPS_MQTT__BROKER": "x"}, "mqtt.broker", "unknown key"),
        (
            {
                "WASH_OPS_MQTT__LINES": '[{site="GEN", line="L1", line_code="L1"}, {site="GEN", line="L1", line_code="L2"}]'
            },
            "mqtt",
            "GEN/L1 is mapped twice",
        ),
    ],
)
def test_bad_values_stop_with_the_key_named(environ, key, message):
    with pytest.raises(ConfigError) as error:
        load_settings(environ=environ)
    text = str(error.value)
    assert key in text and message in text


def test_a_sparkplug_metric_must_name_a_register_map_tag():
    settings = load_settings(
        environ={"WASH_OPS_MQTT__SPARKPLUG_METRICS": '[{metric="Line/Speed", tag="sped"}]'}
    )
    with pytest.raises(ConfigError, match=r"mqtt.sparkplug_metrics.0.tag: 'sped' is not a tag"):
        NetworkIngest(settings, load_register_map(environ={}))


def test_check_config_names_the_bad_mqtt_key():
    result = subprocess.run(
        [sys.executable, "-m", "wash_ops_cli", "check-config"],
        cwd=ROOT,
        env={"WASH_OPS_MQTT__QUEUE_SIZE": "5", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "mqtt.queue_size" in result.stderr + result.stdout
