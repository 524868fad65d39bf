"""Assessments: scored instruments, eligibility decisions, missing-information checklist."""
