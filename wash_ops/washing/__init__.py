"""Wash batches: what the line washes next, the batch on the line, its counts and its hygiene
record, and the eco figures that follow from them."""
