"""Pages for event organisers: their orders, events and API tokens."""
