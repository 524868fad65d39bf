"""Staff and patient accounts, roles, two-factor login and session limits."""
