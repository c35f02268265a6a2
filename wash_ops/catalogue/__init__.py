"""Site, washing lines and the cup catalogue."""
