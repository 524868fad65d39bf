"""Pharmacology core: exact PK simulation, population risk, dosing calculator (pure Python/NumPy)."""
