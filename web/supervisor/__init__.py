"""The line supervisor's tablet screen (live telemetry arrives with the PLC issues)."""
