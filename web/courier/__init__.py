"""The courier's phone view (route planning arrives with the routing issue)."""
