"""Talks to the washing line: Modbus poller, MQTT bridge and the line simulator (later issues)."""
