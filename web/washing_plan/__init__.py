"""The washing plan: the office's page (/office/washing-plan) and the line's tablet (/line/plan)."""
