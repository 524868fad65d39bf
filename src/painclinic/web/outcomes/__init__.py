"""Outcomes: each patient's trajectory, responder status and next step, and the clinic's
outcome dashboard (issue 12, items 5 and 6)."""
