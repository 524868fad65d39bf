"""Infusion chairs, opening hours, series bookings and the daily chair board."""
