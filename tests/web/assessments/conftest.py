"""Fixtures for the assessment and eligibility tests: requests as a clinician, clean facts."""

from __future__ import annotations

from typing import Any

import pytest

from painclinic import clinical
from painclinic.web.accounts.models import Role
from painclinic.web.assessments.services import EligibilityInput, PriorTreatment
from tests.conftest import actor_as


@pytest.fixture
def request_as(users):
    def build(role: Role = Role.PHYSICIAN):
        return actor_as(users[role])

    return build


def clean_entry(**overrides: Any) -> EligibilityInput:
    """What the eligibility form hands the service for a patient with nothing against them.

    ``overrides`` are EligibilityInput fields; ``ecg=None`` is short for "no ECG on file"."""
    if "ecg" in overrides:
        findings = overrides.pop("ecg")
        overrides["ecg_on_file"] = findings is not None
        overrides["ecg_findings"] = tuple(k for k, v in (findings or {}).items() if v)
    for name in ("comorbidities", "current_medications", "ecg_findings", "prior_treatments"):
        if name in overrides:
            overrides[name] = tuple(overrides[name])
    entry: dict[str, Any] = {
        "condition": "crps_1",
        "comorbidities": (),
        "current_medications": (),
        "systolic_bp_mmhg": 124,
        "diastolic_bp_mmhg": 78,
        "heart_rate_bpm": 70,
        "respiratory_rate_per_min": 14,
        "spo2_percent": 98,
        "pregnancy": "not_applicable",
        "active_substance_use_disorder": False,
        "history_substance_use_disorder": False,
        "poorly_controlled_psychosis": False,
        "self_harm_risk": False,
        "ecg_on_file": True,
        "ecg_findings": (),
        "liver_tests_on_file": True,
        "other_local_anaesthetic_within_4h": False,
        "prior_treatments": (
            PriorTreatment(treatment="physical_therapy", duration_weeks=12, outcome="no_relief"),
            PriorTreatment(treatment="gabapentin", max_daily_dose_mg=1800, duration_weeks=8,
                           outcome="no_relief"),
            PriorTreatment(treatment="alendronate", duration_weeks=8, outcome="no_relief"),
        ),
    }  # fmt: skip
    entry.update(overrides)
    return EligibilityInput(**entry)


def budapest_met(variant: str = "clinical") -> dict[str, Any]:
    answers = clinical.template("budapest").skeleton
    answers = {
        "variant": variant,
        "disproportionate_pain": True,
        "symptoms": {c: dict(v) for c, v in answers["symptoms"].items()},
        "signs": {c: dict(v) for c, v in answers["signs"].items()},
        "better_explained_by_other_diagnosis": False,
    }
    answers["symptoms"]["sensory"]["allodynia"] = True
    answers["symptoms"]["vasomotor"]["temperature_asymmetry"] = True
    answers["symptoms"]["sudomotor_edema"]["edema"] = True
    answers["signs"]["sensory"]["allodynia_light_touch"] = True
    answers["signs"]["vasomotor"]["skin_color_change"] = True
    return answers
