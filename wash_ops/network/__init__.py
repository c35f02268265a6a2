"""The lines of the network that send telemetry over MQTT: their sources, duplicates and dead
letters. Protocol-free: the bridge in ``plc/`` hands decoded messages to these services."""
