"""Django set-up for the operations commands (serve, demo, audit, manage); cores never use it."""

from __future__ import annotations

import os


def setup_django() -> None:
    """Point Django at the clinic's settings (unless DJANGO_SETTINGS_MODULE says otherwise)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "painclinic.web.settings")
    import django

    django.setup()
