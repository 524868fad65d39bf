"""The clinic web application (Django)."""
