"""Planning the line's work against its capacity."""
