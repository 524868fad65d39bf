"""The clinic-edited drug library: standard concentrations and soft/hard dose limits.

The library is a JSON file (default: ``drug_library.json`` in this package; the
environment variable ``PAINCLINIC_DRUG_LIBRARY`` may point to a clinic's own copy). It is
validated on load and every validation error names the offending JSON path. **The
clinic's medical director must sign off every limit** (the file says so, and limits
marked ``"evidence": "clinic_policy"`` are clinic decisions, not published values).
"""

from __future__ import annotations

import json
import math
import os
import pathlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from painclinic.pharmacology.enums import LimitBound, LimitLevel
from painclinic.pharmacology.errors import DrugLibraryError

DEFAULT_PATH = pathlib.Path(__file__).with_name("drug_library.json")
ENV_VAR = "PAINCLINIC_DRUG_LIBRARY"

#: Quantities a limit may constrain, with their fixed units.
QUANTITY_UNITS: dict[str, str] = {
    "rate_mg_per_h": "mg/h",
    "rate_mg_per_kg_per_h": "mg/kg/h",
    "bolus_mg": "mg",
    "bolus_mg_per_kg": "mg/kg",
    "session_total_mg": "mg",
    "session_total_mg_per_kg": "mg/kg",
    "total_24h_mg": "mg",
    "weight_kg": "kg",
    "session_duration_min": "min",
}
BOUNDS = (LimitBound.LOWER, LimitBound.UPPER)
LEVELS = tuple(LimitLevel)
#: How a limit's value is supported: a published source, a secondary source ([S2], not yet
#: checked against the primary paper), or a clinic decision (derived, or no source at all).
EVIDENCE = ("published", "secondary", "clinic_policy")
#: The weight a per-kg limit is computed on. ``lower_of_actual_and_ideal``: the lower of the
#: actual and the ideal body weight (IBW = height - 100 cm men, - 105 cm women; Foo 2021 [S2]).
WEIGHT_BASES = ("actual", "lower_of_actual_and_ideal")
#: Which sessions a limit applies to: every one, a short session (planned no longer than the
#: drug's ``short_session_max_duration_min``), or a continuous infusion (longer).
APPLIES_TO = ("all", "short_session", "continuous")
#: Which clinic setting a limit applies to.
SETTINGS = ("all", "outpatient", "inpatient")


@dataclass(frozen=True)
class Limit:
    """One soft or hard, lower or upper limit on a quantity.

    Attributes
    ----------
    quantity : str
        One of :data:`QUANTITY_UNITS`.
    bound : LimitBound
        ``LOWER`` or ``UPPER``.
    level : LimitLevel
        Crossing a soft limit is allowed with a documented reason; a hard limit refuses.
    value : float
        Limit value in ``unit``.
    unit : str
    source : str
        Citation or policy text.
    clinic_policy : bool
        True when the value is not published (``evidence`` secondary or clinic policy).
    evidence : str
        One of :data:`EVIDENCE`.
    weight_basis : str
        One of :data:`WEIGHT_BASES` (per-kg quantities only; ``"actual"`` otherwise).
    applies_to : str
        One of :data:`APPLIES_TO`.
    setting : str
        One of :data:`SETTINGS`.
    """

    quantity: str
    bound: LimitBound
    level: LimitLevel
    value: float
    unit: str
    source: str
    clinic_policy: bool
    evidence: str = "published"
    weight_basis: str = "actual"
    applies_to: str = "all"
    setting: str = "all"

    def applies(self, session_kind: str, setting: str) -> bool:
        """True when the limit applies to a ``session_kind`` session in ``setting``."""
        return self.applies_to in ("all", session_kind) and self.setting in ("all", setting)


@dataclass(frozen=True)
class DrugEntry:
    """Library entry of one drug."""

    name: str
    display_name: str
    vial_concentrations_mg_per_ml: tuple[float, ...]
    standard_concentrations_mg_per_ml: tuple[float, ...]
    concentration_source: str
    bolus_max_duration_min: float
    limits: tuple[Limit, ...]
    #: Sessions planned longer than this (min) are continuous infusions; None: all are short.
    short_session_max_duration_min: float | None = None
    session_kinds_source: str = ""
    session_kinds_evidence: str = "clinic_policy"

    def session_kind(self, duration_min: float) -> str:
        """``"short_session"`` or ``"continuous"`` for a session planned ``duration_min`` long."""
        limit = self.short_session_max_duration_min
        if limit is not None and duration_min > limit * (1 + 1e-9):
            return "continuous"
        return "short_session"


@dataclass(frozen=True)
class DrugLibrary:
    """The validated library."""

    path: str
    sign_off_statement: str
    signed_by: str | None
    signed_on: str | None
    drugs: Mapping[str, DrugEntry]

    def drug(self, name: str, field: str = "drug") -> DrugEntry:
        """Entry for ``name``; unknown drugs raise an error naming ``field``."""
        key = str(name).strip().lower()
        if key not in self.drugs:
            from painclinic.pharmacology.errors import PharmacologyInputError

            raise PharmacologyInputError(
                field, f"unknown drug {name!r}; the drug library has {sorted(self.drugs)}"
            )
        return self.drugs[key]


def _num(value: Any, field: str, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DrugLibraryError(field, f"must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise DrugLibraryError(field, f"must be positive, got {value!r}")
    return float(value)


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DrugLibraryError(field, "must be a non-empty string")
    return value


def _concentrations(value: Any, field: str) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        raise DrugLibraryError(field, "must be a non-empty list of mg/mL values")
    out = tuple(_num(v, f"{field}[{i}]") for i, v in enumerate(value))
    if len(set(out)) != len(out):
        raise DrugLibraryError(field, "contains duplicates")
    return out


def _limit(raw: Any, field: str) -> Limit:
    if not isinstance(raw, Mapping):
        raise DrugLibraryError(field, "must be an object")
    allowed = {
        "quantity",
        "bound",
        "level",
        "value",
        "unit",
        "source",
        "evidence",
        "weight_basis",
        "applies_to",
        "setting",
    }
    for key in raw:
        if key not in allowed:
            raise DrugLibraryError(f"{field}.{key}", f"unknown field (expected {sorted(allowed)})")
    quantity = raw.get("quantity")
    if quantity not in QUANTITY_UNITS:
        raise DrugLibraryError(f"{field}.quantity", f"must be one of {sorted(QUANTITY_UNITS)}")
    if raw.get("bound") not in BOUNDS:
        raise DrugLibraryError(f"{field}.bound", f"must be one of {tuple(map(str, BOUNDS))}")
    if raw.get("level") not in LEVELS:
        raise DrugLibraryError(f"{field}.level", f"must be one of {tuple(map(str, LEVELS))}")
    if raw.get("evidence") not in EVIDENCE:
        raise DrugLibraryError(f"{field}.evidence", f"must be one of {EVIDENCE}")
    for key, choices in (
        ("weight_basis", WEIGHT_BASES),
        ("applies_to", APPLIES_TO),
        ("setting", SETTINGS),
    ):
        if key in raw and raw[key] not in choices:
            raise DrugLibraryError(f"{field}.{key}", f"must be one of {choices}")
    weight_basis = raw.get("weight_basis", "actual")
    if weight_basis != "actual" and "_per_kg" not in quantity:
        raise DrugLibraryError(
            f"{field}.weight_basis", f"only a per-kg quantity has one, not {quantity}"
        )
    unit = raw.get("unit")
    if unit != QUANTITY_UNITS[quantity]:
        raise DrugLibraryError(
            f"{field}.unit", f"must be {QUANTITY_UNITS[quantity]!r} for {quantity}, got {unit!r}"
        )
    return Limit(
        quantity=quantity,
        bound=LimitBound(raw["bound"]),
        level=LimitLevel(raw["level"]),
        value=_num(raw.get("value"), f"{field}.value"),
        unit=unit,
        source=_text(raw.get("source"), f"{field}.source"),
        clinic_policy=raw["evidence"] != "published",
        evidence=raw["evidence"],
        weight_basis=weight_basis,
        applies_to=raw.get("applies_to", "all"),
        setting=raw.get("setting", "all"),
    )


def _check_consistency(limits: tuple[Limit, ...], field: str) -> None:
    """Soft limits must sit inside hard ones; lower limits below upper ones (among the limits
    of one quantity for the same sessions and setting)."""
    by_q: dict[str, dict[tuple[LimitBound, LimitLevel], float]] = {}
    for lim in limits:
        key = (lim.bound, lim.level)
        scope = lim.quantity
        if lim.applies_to != "all" or lim.setting != "all":
            scope = f"{lim.quantity} ({lim.applies_to}, {lim.setting})"
        slot = by_q.setdefault(scope, {})
        if key in slot:
            raise DrugLibraryError(field, f"two {lim.level} {lim.bound} limits for {scope}")
        slot[key] = lim.value
    upper, lower = LimitBound.UPPER, LimitBound.LOWER
    soft, hard = LimitLevel.SOFT, LimitLevel.HARD
    for q, s in by_q.items():
        if (upper, soft) in s and (upper, hard) in s and s[upper, soft] > s[upper, hard]:
            raise DrugLibraryError(field, f"{q}: soft upper limit above the hard upper limit")
        if (lower, soft) in s and (lower, hard) in s and s[lower, soft] < s[lower, hard]:
            raise DrugLibraryError(field, f"{q}: soft lower limit below the hard lower limit")
        lowers = [v for (b, _), v in s.items() if b is LimitBound.LOWER]
        uppers = [v for (b, _), v in s.items() if b is LimitBound.UPPER]
        if lowers and uppers and max(lowers) >= min(uppers):
            raise DrugLibraryError(field, f"{q}: a lower limit is not below every upper limit")


_DRUG_KEYS = {
    "display_name",
    "vial_concentrations_mg_per_ml",
    "standard_concentrations_mg_per_ml",
    "concentration_source",
    "bolus_max_duration_min",
    "limits",
    "session_kinds",
}


def _session_kinds(raw: Any, field: str) -> tuple[float | None, str, str]:
    """(short_session_max_duration_min, source, evidence) of an optional ``session_kinds``."""
    if raw is None:
        return None, "", "clinic_policy"
    if not isinstance(raw, Mapping):
        raise DrugLibraryError(field, "must be an object")
    allowed = {"short_session_max_duration_min", "source", "evidence"}
    for key in raw:
        if key not in allowed:
            raise DrugLibraryError(f"{field}.{key}", f"unknown field (expected {sorted(allowed)})")
    if raw.get("evidence") not in EVIDENCE:
        raise DrugLibraryError(f"{field}.evidence", f"must be one of {EVIDENCE}")
    return (
        _num(raw.get("short_session_max_duration_min"), f"{field}.short_session_max_duration_min"),
        _text(raw.get("source"), f"{field}.source"),
        str(raw["evidence"]),
    )


def parse_drug_library(data: Any, path: str = "<memory>") -> DrugLibrary:
    """Validate a library document (already decoded from JSON).

    Parameters
    ----------
    data : Any
        The decoded JSON document: sign-off fields and ``drugs`` (see
        ``drug_library.json``).
    path : str
        Where the document came from, kept in :attr:`DrugLibrary.path` for messages.

    Returns
    -------
    DrugLibrary

    Raises
    ------
    DrugLibraryError
        ``.field`` is the JSON path of the first problem found.
    """
    if not isinstance(data, Mapping):
        raise DrugLibraryError("library", "must be a JSON object")
    if data.get("schema_version") != 1:
        raise DrugLibraryError("schema_version", "must be 1")
    sign = data.get("medical_director_sign_off")
    if not isinstance(sign, Mapping):
        raise DrugLibraryError("medical_director_sign_off", "is required (an object)")
    statement = _text(sign.get("statement"), "medical_director_sign_off.statement")
    drugs_raw = data.get("drugs")
    if not isinstance(drugs_raw, Mapping) or not drugs_raw:
        raise DrugLibraryError("drugs", "must be a non-empty object")
    drugs: dict[str, DrugEntry] = {}
    for name, raw in drugs_raw.items():
        f = f"drugs.{name}"
        if not isinstance(raw, Mapping):
            raise DrugLibraryError(f, "must be an object")
        for key in raw:
            if key not in _DRUG_KEYS:
                raise DrugLibraryError(
                    f"{f}.{key}", f"unknown field (expected {sorted(_DRUG_KEYS)})"
                )
        limits_raw = raw.get("limits")
        if not isinstance(limits_raw, list):
            raise DrugLibraryError(f"{f}.limits", "must be a list")
        limits = tuple(_limit(lim, f"{f}.limits[{i}]") for i, lim in enumerate(limits_raw))
        _check_consistency(limits, f"{f}.limits")
        short_max, kinds_source, kinds_evidence = _session_kinds(
            raw.get("session_kinds"), f"{f}.session_kinds"
        )
        drugs[str(name).lower()] = DrugEntry(
            name=str(name).lower(),
            display_name=_text(raw.get("display_name"), f"{f}.display_name"),
            vial_concentrations_mg_per_ml=_concentrations(
                raw.get("vial_concentrations_mg_per_ml"), f"{f}.vial_concentrations_mg_per_ml"
            ),
            standard_concentrations_mg_per_ml=_concentrations(
                raw.get("standard_concentrations_mg_per_ml"),
                f"{f}.standard_concentrations_mg_per_ml",
            ),
            concentration_source=_text(
                raw.get("concentration_source"), f"{f}.concentration_source"
            ),
            bolus_max_duration_min=_num(
                raw.get("bolus_max_duration_min"), f"{f}.bolus_max_duration_min"
            ),
            limits=limits,
            short_session_max_duration_min=short_max,
            session_kinds_source=kinds_source,
            session_kinds_evidence=kinds_evidence,
        )
    signed_by = sign.get("signed_by")
    signed_on = sign.get("signed_on")
    return DrugLibrary(
        path=path,
        sign_off_statement=statement,
        signed_by=None if signed_by is None else str(signed_by),
        signed_on=None if signed_on is None else str(signed_on),
        drugs=drugs,
    )


def load_drug_library(path: str | os.PathLike[str] | None = None) -> DrugLibrary:
    """Load and validate the drug library.

    Parameters
    ----------
    path : path-like, optional
        Library file. Default: ``$PAINCLINIC_DRUG_LIBRARY`` if set, else the packaged
        ``drug_library.json``.

    Returns
    -------
    DrugLibrary

    Raises
    ------
    DrugLibraryError
        Unreadable file, malformed JSON (field ``"library"``) or invalid content.
    """
    chosen = pathlib.Path(path or os.environ.get(ENV_VAR) or DEFAULT_PATH)
    try:
        text = chosen.read_text(encoding="utf-8")
    except OSError as exc:
        raise DrugLibraryError("library", f"cannot read {chosen}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DrugLibraryError("library", f"malformed JSON in {chosen}: {exc}") from None
    return parse_drug_library(data, str(chosen))
