"""Pages for the office: the order queue, organisations and the capacity calendar."""
