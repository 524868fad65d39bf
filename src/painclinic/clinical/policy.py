"""Clinic-editable data files: packaged defaults, overridable by a clinic copy.

Each file is JSON with a ``"version"`` string. A clinic overrides a file by putting its own
copy with the same name either in a directory given explicitly (``policy_dir=``) or in the
directory named by the environment variable ``PAINCLINIC_CLINICAL_POLICY_DIR``. Files absent
from that directory fall back to the packaged default. A clinic copy replaces the packaged
file whole (no merging), so what is in force is always one file a reviewer can read; the
``version`` of each file in force is reported with every result.
"""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

from painclinic.clinical.errors import ClinicalInputError

POLICY_DIR_ENV = "PAINCLINIC_CLINICAL_POLICY_DIR"

POLICY_FILES = (
    "conditions.json",
    "eligibility_rules.json",
    "interactions.json",
    "medications.json",
    "instrument_policy.json",
    "monitoring_thresholds.json",
    "responder_policy.json",
    "followup_policy.json",
    "escalation_policy.json",
    "protocols.json",
)


def policy_path(name: str, policy_dir: str | Path | None = None) -> Path | None:
    """The clinic override for ``name`` if one exists, else None (packaged default in force)."""
    directory = policy_dir if policy_dir is not None else os.environ.get(POLICY_DIR_ENV)
    if directory:
        if not Path(directory).is_dir():
            raise ClinicalInputError(str(directory), "policy directory not found")
        candidate = Path(directory) / name
        if candidate.is_file():
            return candidate
    return None


def load_policy(name: str, policy_dir: str | Path | None = None) -> dict[str, Any]:
    """Read one policy file (clinic copy if present, else the packaged default)."""
    if name not in POLICY_FILES:
        raise ClinicalInputError(name, f"unknown policy file (known: {list(POLICY_FILES)})")
    override = policy_path(name, policy_dir)
    if override is not None:
        text = override.read_text(encoding="utf-8")
        origin = str(override)
    else:
        text = resources.files("painclinic.clinical").joinpath("data", name).read_text("utf-8")
        origin = f"packaged:{name}"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ClinicalInputError(origin, f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ClinicalInputError(origin, "policy file must hold a JSON object")
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise ClinicalInputError(f"{origin}:version", "every policy file needs a version string")
    data["_origin"] = origin
    return data
