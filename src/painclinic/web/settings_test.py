"""Settings for the test suite: the normal settings with PAINCLINIC_ENV=test (fast hasher)."""

import os

os.environ["PAINCLINIC_ENV"] = "test"

from painclinic.web.settings import *  # noqa: F403
