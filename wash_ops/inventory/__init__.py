"""Storage inventory: an append-only stock ledger, the balances derived from it, warehouse
locations with a capacity in crates, reservations for orders, availability by date and counts.

Modules: ``models`` (tables), ``locations``, ``ledger`` (every movement goes through it),
``reservations``, ``availability`` and ``counts``.
"""
