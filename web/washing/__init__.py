"""The line supervisor's wash batches: backlog, start, the batch on the line, end, reports."""
