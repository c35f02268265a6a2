"""The office's view of the network: the lines that send telemetry over MQTT, and the dead
letters (messages that could not be used)."""
