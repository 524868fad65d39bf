"""Conditions catalogue: codes, diagnostic criteria, ketamine evidence, first-line treatments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from painclinic.clinical._validate import (
    as_list,
    as_mapping,
    as_number,
    as_str,
    check_keys,
    join,
)
from painclinic.clinical.errors import ClinicalInputError
from painclinic.clinical.policy import load_policy
from painclinic.clinical.sources import SOURCES

EVIDENCE_GRADES = ("moderate", "weak", "none")


def check_sources(value: object, path: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    keys = tuple(as_str(k, join(path, i)) for i, k in enumerate(as_list(value, path)))
    if not keys and not allow_empty:
        raise ClinicalInputError(path, "at least one source is required")
    for i, key in enumerate(keys):
        if key not in SOURCES:
            raise ClinicalInputError(join(path, i), f"unknown source {key!r}")
    return keys


@dataclass(frozen=True)
class Code:
    code: str | None
    sources: tuple[str, ...]
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "sources": list(self.sources), "note": self.note}


@dataclass(frozen=True)
class Agent:
    drug: str
    min_daily_dose_mg: float | None
    max_daily_dose_mg: float | None
    note: str


@dataclass(frozen=True)
class FirstLineOption:
    id: str
    name: str
    kind: str
    agents: tuple[Agent, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class KetamineEvidence:
    grade: str
    summary: str
    sources: tuple[str, ...]


@dataclass(frozen=True)
class DiagnosisFact:
    """A fact the diagnosis itself rests on (PHN: months since the rash; PDN: neuropathy
    confirmed). ``kind`` "min_value": the finding must be at least ``value``; "required_true":
    the finding must be true."""

    id: str
    label: str
    kind: str
    value: float | None
    unit: str
    sources: tuple[str, ...]
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "kind": self.kind,
            "value": self.value,
            "unit": self.unit,
            "sources": list(self.sources),
            "note": self.note,
        }


DIAGNOSIS_FACT_KINDS = ("min_value", "required_true")


@dataclass(frozen=True)
class Condition:
    id: str
    name: str
    diagnostic_criteria: tuple[str, ...]
    snomed_ct: Code
    icd10ca: Code
    ketamine_evidence: KetamineEvidence
    first_line: tuple[FirstLineOption, ...]
    diagnosis_facts: tuple[DiagnosisFact, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "diagnostic_criteria": list(self.diagnostic_criteria),
            "snomed_ct": self.snomed_ct.to_dict(),
            "icd10ca": self.icd10ca.to_dict(),
            "ketamine_evidence": {
                "grade": self.ketamine_evidence.grade,
                "summary": self.ketamine_evidence.summary,
                "sources": list(self.ketamine_evidence.sources),
            },
            "diagnosis_facts": [f.to_dict() for f in self.diagnosis_facts],
            "first_line": [
                {
                    "id": o.id,
                    "name": o.name,
                    "kind": o.kind,
                    "agents": [a.__dict__ for a in o.agents],
                    "sources": list(o.sources),
                }
                for o in self.first_line
            ],
        }


@dataclass(frozen=True)
class ConditionsCatalogue:
    version: str
    origin: str
    adequate_trial_min_weeks: float
    conditions: dict[str, Condition]
    screening_instruments: frozenset[str] = frozenset()
    screening_sources: tuple[str, ...] = ()

    def is_screening(self, instrument: str | None) -> bool:
        """A screening tool (DN4, LANSS) suggests neuropathic pain; it does not diagnose it."""
        return instrument in self.screening_instruments

    def get(self, condition_id: str, field: str = "condition") -> Condition:
        try:
            return self.conditions[condition_id]
        except KeyError:
            raise ClinicalInputError(
                field, f"unknown condition {condition_id!r} (known: {sorted(self.conditions)})"
            ) from None


def _code(value: object, path: str) -> Code:
    data = as_mapping(value, path)
    check_keys(data, path, ["code", "sources", "note"])
    code = None if data["code"] is None else as_str(data["code"], join(path, "code"))
    sources = check_sources(data["sources"], join(path, "sources"), allow_empty=code is None)
    return Code(code, sources, as_str(data["note"], join(path, "note")))


def _dose(value: object, path: str) -> float | None:
    return None if value is None else as_number(value, path, lo=0)


def _option(value: object, path: str) -> FirstLineOption:
    data = as_mapping(value, path)
    check_keys(data, path, ["id", "name", "kind", "agents", "sources"])
    agents = []
    for i, raw in enumerate(as_list(data["agents"], join(path, "agents"))):
        apath = join(join(path, "agents"), i)
        agent = as_mapping(raw, apath)
        check_keys(agent, apath, ["drug", "min_daily_dose_mg", "max_daily_dose_mg", "note"])
        agents.append(
            Agent(
                as_str(agent["drug"], join(apath, "drug")),
                _dose(agent["min_daily_dose_mg"], join(apath, "min_daily_dose_mg")),
                _dose(agent["max_daily_dose_mg"], join(apath, "max_daily_dose_mg")),
                as_str(agent["note"], join(apath, "note")),
            )
        )
    return FirstLineOption(
        as_str(data["id"], join(path, "id")),
        as_str(data["name"], join(path, "name")),
        as_str(data["kind"], join(path, "kind"), ("drug", "non_drug")),
        tuple(agents),
        check_sources(data["sources"], join(path, "sources")),
    )


def _diagnosis_fact(value: object, path: str) -> DiagnosisFact:
    data = as_mapping(value, path)
    check_keys(data, path, ["id", "label", "kind", "value", "unit", "sources", "note"])
    kind = as_str(data["kind"], join(path, "kind"), DIAGNOSIS_FACT_KINDS)
    number = None
    if kind == "min_value":
        number = as_number(data["value"], join(path, "value"), lo=0)
    return DiagnosisFact(
        as_str(data["id"], join(path, "id")),
        as_str(data["label"], join(path, "label")),
        kind,
        number,
        as_str(data["unit"], join(path, "unit")),
        check_sources(data["sources"], join(path, "sources")),
        as_str(data["note"], join(path, "note")),
    )


def load_conditions(policy_dir: str | Path | None = None) -> ConditionsCatalogue:
    raw = load_policy("conditions.json", policy_dir)
    origin = raw["_origin"]
    check_keys(
        raw,
        "",
        ["version", "conditions", "adequate_trial_min_weeks", "_origin"],
        ["description", "screening_instruments"],
    )
    screening: frozenset[str] = frozenset()
    screening_sources: tuple[str, ...] = ()
    if "screening_instruments" in raw:
        sc = as_mapping(raw["screening_instruments"], "screening_instruments")
        check_keys(sc, "screening_instruments", ["instruments", "sources", "note"])
        screening = frozenset(
            as_str(i, "screening_instruments.instruments")
            for i in as_list(sc["instruments"], "screening_instruments.instruments")
        )
        screening_sources = check_sources(sc["sources"], "screening_instruments.sources")
    weeks_raw = as_mapping(raw["adequate_trial_min_weeks"], "adequate_trial_min_weeks")
    weeks = as_number(weeks_raw.get("value"), "adequate_trial_min_weeks.value", lo=0)
    conditions: dict[str, Condition] = {}
    for cid, value in as_mapping(raw["conditions"], "conditions").items():
        path = join("conditions", cid)
        data = as_mapping(value, path)
        check_keys(
            data,
            path,
            ["name", "diagnostic_criteria", "snomed_ct", "icd10ca", "ketamine_evidence",
             "first_line"],
            ["diagnosis_facts"],
        )  # fmt: skip
        ev = as_mapping(data["ketamine_evidence"], join(path, "ketamine_evidence"))
        evpath = join(path, "ketamine_evidence")
        check_keys(ev, evpath, ["grade", "summary", "sources"])
        conditions[cid] = Condition(
            id=cid,
            name=as_str(data["name"], join(path, "name")),
            diagnostic_criteria=tuple(
                as_str(c, join(join(path, "diagnostic_criteria"), i))
                for i, c in enumerate(as_list(data["diagnostic_criteria"], path))
            ),
            snomed_ct=_code(data["snomed_ct"], join(path, "snomed_ct")),
            icd10ca=_code(data["icd10ca"], join(path, "icd10ca")),
            ketamine_evidence=KetamineEvidence(
                as_str(ev["grade"], join(evpath, "grade"), EVIDENCE_GRADES),
                as_str(ev["summary"], join(evpath, "summary")),
                check_sources(ev["sources"], join(evpath, "sources")),
            ),
            first_line=tuple(
                _option(o, join(join(path, "first_line"), i))
                for i, o in enumerate(as_list(data["first_line"], join(path, "first_line")))
            ),
            diagnosis_facts=tuple(
                _diagnosis_fact(f, join(join(path, "diagnosis_facts"), i))
                for i, f in enumerate(
                    as_list(data.get("diagnosis_facts", []), join(path, "diagnosis_facts"))
                )
            ),
        )
    return ConditionsCatalogue(
        raw["version"], origin, weeks, conditions, screening, screening_sources
    )
