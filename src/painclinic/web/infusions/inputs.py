"""What each infusion-day service takes: frozen dataclasses with units in their names.

The chart's forms build them (``form.to_input()``); a command or a worker builds them directly.
Attribute names equal the form fields, so a ``Refused(field=...)`` from a service lands on the
right field of the page. Times are timezone-aware datetimes. The session's ``expected_version``
is not part of an input: every service takes it as its own named argument.

A dose is a value and its unit (``dose_value`` with ``dose_unit``, ``"mg/h"`` or ``"mg/kg/h"``):
the same rate may be ordered either way, so the unit cannot be in the name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

__all__ = [
    "AcknowledgeInput",
    "AdverseEventInput",
    "AmendmentInput",
    "CancelInput",
    "ChecklistInput",
    "DischargeInput",
    "DoubleCheckInput",
    "NoteInput",
    "ObservationInput",
    "PauseInput",
    "PrepareBagInput",
    "RateChangeInput",
    "ResumeInput",
    "StartInput",
    "StopInput",
    "WasteRemainderInput",
]


class _Input:
    def as_mapping(self) -> dict[str, Any]:
        """The values by field name, for the rules shared with the forms (``rules.py``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class ChecklistInput(_Input):
    systolic_bp_mmhg: int
    diastolic_bp_mmhg: int
    heart_rate_bpm: int
    respiratory_rate_per_min: int
    spo2_percent: int
    weight_kg: Decimal
    escort_name: str
    escort_phone: str
    last_solids_at: dt.datetime
    last_clear_fluids_at: dt.datetime
    pregnancy_test: str
    no_new_conditions_confirmed: bool


@dataclass(frozen=True)
class DoubleCheckInput(_Input):
    """Nurse 2's blind entry of the bag; ``limit_reason`` when the patient's 24-hour total would
    be above the drug library's soft limit."""

    drug: str
    bag_concentration_mg_per_ml: Decimal
    dose_value: Decimal
    dose_unit: str
    pump_rate_entered_ml_per_h: Decimal
    limit_reason: str = ""


@dataclass(frozen=True)
class PrepareBagInput(_Input):
    """Nurse 1's entry: the bag, and the drug drawn from the register's vials for it."""

    drug: str
    vial_concentration_mg_per_ml: Decimal
    drawn_mg: Decimal
    vial_lot: str
    bag_concentration_mg_per_ml: Decimal
    dose_value: Decimal
    dose_unit: str
    pump_rate_entered_ml_per_h: Decimal


@dataclass(frozen=True)
class StartInput(_Input):
    """When the infusion started; ``limit_reason`` when the patient's 24-hour total is above the
    drug library's soft limit and the double check gave no reason (or a new one is due)."""

    at: dt.datetime
    limit_reason: str = ""


@dataclass(frozen=True)
class PauseInput(_Input):
    at: dt.datetime
    reason: str = ""


@dataclass(frozen=True)
class ResumeInput(_Input):
    at: dt.datetime


@dataclass(frozen=True)
class StopInput(_Input):
    at: dt.datetime
    reason: str = ""


@dataclass(frozen=True)
class RateChangeInput(_Input):
    at: dt.datetime
    dose_value: Decimal
    dose_unit: str
    limit_reason: str = ""


@dataclass(frozen=True)
class ObservationInput(_Input):
    """One round; a vital sign is None when it could not be measured (the round is then
    "incomplete": charted, shown so, and not counted as done)."""

    observed_at: dt.datetime
    systolic_bp_mmhg: int | None
    diastolic_bp_mmhg: int | None
    heart_rate_bpm: int | None
    respiratory_rate_per_min: int | None
    spo2_percent: int | None
    rass: int | None = None
    moaas: int | None = None
    cadss6: int | None = None
    pain_nrs: int | None = None
    symptoms: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class AcknowledgeInput(_Input):
    """The action taken on an alert; ``dose_value``/``dose_unit`` only to reduce the rate.
    ``at`` is when the action was taken (now when not given)."""

    response: str
    action_taken: str
    at: dt.datetime | None = None
    dose_value: Decimal | None = None
    dose_unit: str = "mg/h"
    limit_reason: str = ""


@dataclass(frozen=True)
class AdverseEventInput(_Input):
    occurred_at: dt.datetime
    event_type: str
    severity: str
    action_taken: str
    outcome: str
    description: str = ""
    serious: bool = False


@dataclass(frozen=True)
class DischargeInput(_Input):
    """The modified Aldrete score's five items (0-2 each), the modified PADSS items the nurse
    answers (0-2 each; its vital-signs item is computed from the observations), the escort,
    and the time. A PADSS item left None is not answered: discharge is refused."""

    at: dt.datetime
    activity: int
    respiration: int
    circulation: int
    consciousness: int
    oxygen_saturation: int
    escort_name: str = ""
    escort_phone: str = ""
    escort_confirmed: bool = False
    padss_activity: int | None = None
    padss_nausea_vomiting: int | None = None
    padss_pain: int | None = None
    padss_bleeding: int | None = None

    @property
    def padss(self) -> dict[str, int | None]:
        """The PADSS items the nurse answered, by the instrument's item names."""
        return {
            "activity": self.padss_activity,
            "nausea_vomiting": self.padss_nausea_vomiting,
            "pain": self.padss_pain,
            "bleeding": self.padss_bleeding,
        }

    @property
    def aldrete(self) -> dict[str, int]:
        return {
            "activity": self.activity,
            "respiration": self.respiration,
            "circulation": self.circulation,
            "consciousness": self.consciousness,
            "oxygen_saturation": self.oxygen_saturation,
        }

    @classmethod
    def with_aldrete(
        cls,
        at: dt.datetime,
        aldrete: Mapping[str, int],
        *,
        escort_name: str = "",
        escort_phone: str = "",
        escort_confirmed: bool = False,
        padss: Mapping[str, int | None] | None = None,
    ) -> DischargeInput:
        """From the Aldrete answers as a mapping (item name -> 0, 1 or 2), and the PADSS
        items the nurse answers (``activity``, ``nausea_vomiting``, ``pain``, ``bleeding``)."""
        padss = padss or {}
        return cls(
            at=at,
            activity=int(aldrete["activity"]),
            respiration=int(aldrete["respiration"]),
            circulation=int(aldrete["circulation"]),
            consciousness=int(aldrete["consciousness"]),
            oxygen_saturation=int(aldrete["oxygen_saturation"]),
            escort_name=escort_name,
            escort_phone=escort_phone,
            escort_confirmed=escort_confirmed,
            padss_activity=padss.get("activity"),
            padss_nausea_vomiting=padss.get("nausea_vomiting"),
            padss_pain=padss.get("pain"),
            padss_bleeding=padss.get("bleeding"),
        )


@dataclass(frozen=True)
class NoteInput(_Input):
    """The session note's text; ``sign`` signs and locks it."""

    text: str
    sign: bool = False


@dataclass(frozen=True)
class AmendmentInput(_Input):
    """A correction of a signed note, with its reason (the note itself is kept)."""

    text: str
    reason: str


@dataclass(frozen=True)
class WasteRemainderInput(_Input):
    """The witness (a user or a user id) and the password they type themselves; the amount
    is computed, never typed."""

    witness: Any
    witness_password: str


@dataclass(frozen=True)
class CancelInput(_Input):
    """Why a session that has not started is cancelled; a witness when drawn drug must be
    wasted in the same step."""

    reason: str
    detail: str = ""
    witness: Any = None
    witness_password: str = ""
