"""WSGI entry point: ``gunicorn -c python:painclinic.web.gunicorn_conf`` (or any WSGI server).

The start-up checks run here too, for a server started without the gunicorn settings module:
a failed check prints its one line and stops the process loading the app. The exit status 4
is gunicorn's "App failed to load", which halts the master instead of booting the worker
again and again.
"""

import os
import sys

from django.core.wsgi import get_wsgi_application

from painclinic.web.lib.startup import startup_refusal

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "painclinic.web.settings")
_refusal = startup_refusal()
if _refusal:
    print(f"error: {_refusal}", file=sys.stderr, flush=True)
    raise SystemExit(4)
application = get_wsgi_application()
