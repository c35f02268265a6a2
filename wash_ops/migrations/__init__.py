"""Alembic migrations; run them with ``wash-ops db upgrade``."""
