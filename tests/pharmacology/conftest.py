"""Make ``src/`` importable when the package is not installed (e.g. before ``make venv``)."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

if importlib.util.find_spec("painclinic") is None:  # pragma: no cover - environment dependent
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "src"))
