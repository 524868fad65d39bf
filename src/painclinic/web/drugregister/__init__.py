"""Controlled-drug register for ketamine: receipts, draws, witnessed waste, balances, counts."""
