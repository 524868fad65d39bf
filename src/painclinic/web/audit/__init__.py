"""Append-only, hash-chained audit trail of every read and write of personal health information."""
