"""Events and wash orders: intake, edits, status changes."""
