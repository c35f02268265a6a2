"""Stock pages: the overview, places and moves, counts, the ledger, availability and labels."""
