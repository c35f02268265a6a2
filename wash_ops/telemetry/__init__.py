"""Line telemetry: the register map, ingest of readings, counters, states, alarms, roll-ups."""
