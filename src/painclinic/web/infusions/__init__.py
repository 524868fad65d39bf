"""Infusion day: checklist, double check, rate segments, observations, alerts, discharge, note."""
