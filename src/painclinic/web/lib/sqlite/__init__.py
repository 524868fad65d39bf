"""The embedded SQLite database backend: Django's, with writers served in turn (see ``base``)."""
