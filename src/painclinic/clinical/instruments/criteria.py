"""Diagnostic criteria: Budapest (CRPS) and ACR 2016 (fibromyalgia)."""

from __future__ import annotations

from typing import Any

from painclinic.clinical._validate import as_bool, as_int, as_mapping, as_str, check_keys, join
from painclinic.clinical.instruments.base import (
    Instrument,
    InstrumentResult,
    InstrumentTemplate,
    ItemSpec,
    register,
)

# --- Budapest -------------------------------------------------------------------------------

BUDAPEST_CATEGORIES = ("sensory", "vasomotor", "sudomotor_edema", "motor_trophic")
_MOTOR_TROPHIC = {
    "decreased_range_of_motion": "decreased range of motion",
    "weakness": "motor dysfunction: weakness",
    "tremor": "motor dysfunction: tremor",
    "dystonia": "motor dysfunction: dystonia",
    "trophic_hair": "trophic change: hair",
    "trophic_nail": "trophic change: nail",
    "trophic_skin": "trophic change: skin",
}
BUDAPEST_SYMPTOMS: dict[str, dict[str, str]] = {
    "sensory": {"hyperesthesia": "reports hyperaesthesia", "allodynia": "reports allodynia"},
    "vasomotor": {
        "temperature_asymmetry": "reports temperature asymmetry",
        "skin_color_change": "reports skin colour change",
        "skin_color_asymmetry": "reports skin colour asymmetry",
    },
    "sudomotor_edema": {
        "edema": "reports oedema",
        "sweating_change": "reports sweating change",
        "sweating_asymmetry": "reports sweating asymmetry",
    },
    "motor_trophic": {k: f"reports {w}" for k, w in _MOTOR_TROPHIC.items()},
}
BUDAPEST_SIGNS: dict[str, dict[str, str]] = {
    "sensory": {
        "hyperalgesia_pinprick": "hyperalgesia to pinprick",
        "allodynia_light_touch": "allodynia to light touch",
        "allodynia_deep_somatic_pressure": "allodynia to deep somatic pressure",
        "allodynia_joint_movement": "allodynia to joint movement",
    },
    "vasomotor": {
        "temperature_asymmetry": "temperature asymmetry (some versions: >1 C [S2])",
        "skin_color_change": "skin colour change",
        "skin_color_asymmetry": "skin colour asymmetry",
    },
    "sudomotor_edema": {
        "edema": "oedema",
        "sweating_change": "sweating change",
        "sweating_asymmetry": "sweating asymmetry",
    },
    "motor_trophic": {k: f"{w} (observed)" for k, w in _MOTOR_TROPHIC.items()},
}
BUDAPEST_VARIANTS = ("clinical", "research")


def budapest_template() -> InstrumentTemplate:
    items = [
        ItemSpec.choice(
            "variant",
            " or ".join(f"'{v}'" for v in BUDAPEST_VARIANTS),
            "which criteria set to apply",
            {v: v for v in BUDAPEST_VARIANTS},
        ),
        ItemSpec.boolean(
            "disproportionate_pain",
            "true/false",
            "A: continuing pain disproportionate to any inciting event",
        ),
    ]
    for part, table in (("symptoms", BUDAPEST_SYMPTOMS), ("signs", BUDAPEST_SIGNS)):
        for cat, entries in table.items():
            for key, wording in entries.items():
                items.append(ItemSpec.boolean(f"{part}.{cat}.{key}", "true/false", wording))
    items.append(
        ItemSpec.boolean(
            "better_explained_by_other_diagnosis",
            "true/false",
            "D: another diagnosis better explains the signs and symptoms",
        )
    )
    return InstrumentTemplate(
        instrument="budapest",
        title="Budapest criteria for complex regional pain syndrome",
        sources=("harden2010",),
        items=tuple(items),
        skeleton={
            "variant": "clinical",
            "disproportionate_pain": False,
            "symptoms": {c: dict.fromkeys(v, False) for c, v in BUDAPEST_SYMPTOMS.items()},
            "signs": {c: dict.fromkeys(v, False) for c, v in BUDAPEST_SIGNS.items()},
            "better_explained_by_other_diagnosis": False,
        },
        scoring="met when A (disproportionate pain), B (a symptom in >=3 of 4 categories for "
        "'clinical', all 4 for 'research'), C (a sign observed at evaluation in >=2 of 4 "
        "categories) and D (no better explanation) all hold. score = null",
        licence="published diagnostic criteria; free to use",
        wording_source="Harden 2010 / Marinus 2011 table, paraphrased",
    )


def _categories(data: Any, path: str, table: dict[str, dict[str, str]]) -> list[str]:
    mapping = as_mapping(data, path)
    check_keys(mapping, path, table)
    positive = []
    for cat, entries in table.items():
        cat_path = join(path, cat)
        inner = as_mapping(mapping[cat], cat_path)
        check_keys(inner, cat_path, entries)
        if any([as_bool(inner[k], join(cat_path, k)) for k in entries]):
            positive.append(cat)
    return positive


def score_budapest(answers: object) -> InstrumentResult:
    data = as_mapping(answers, "")
    check_keys(
        data,
        "",
        ["variant", "disproportionate_pain", "symptoms", "signs",
         "better_explained_by_other_diagnosis"],
    )  # fmt: skip
    variant = as_str(data["variant"], "variant", BUDAPEST_VARIANTS)
    a = as_bool(data["disproportionate_pain"], "disproportionate_pain")
    symptom_cats = _categories(data["symptoms"], "symptoms", BUDAPEST_SYMPTOMS)
    sign_cats = _categories(data["signs"], "signs", BUDAPEST_SIGNS)
    other = as_bool(
        data["better_explained_by_other_diagnosis"], "better_explained_by_other_diagnosis"
    )
    need_symptoms = 3 if variant == "clinical" else 4
    b = len(symptom_cats) >= need_symptoms
    c = len(sign_cats) >= 2
    d = not other
    met = a and b and c and d
    reasons = (
        f"A disproportionate pain: {'yes' if a else 'no'}",
        f"B symptoms in {len(symptom_cats)} of 4 categories ({variant} needs "
        f"{need_symptoms}): {'met' if b else 'not met'}",
        f"C signs in {len(sign_cats)} of 4 categories (needs 2): {'met' if c else 'not met'}",
        f"D no better explanation: {'yes' if d else 'no'}",
    )
    details = {
        "variant": variant,
        "symptom_categories": symptom_cats,
        "sign_categories": sign_cats,
        "criterion_a": a,
        "criterion_b": b,
        "criterion_c": c,
        "criterion_d": d,
    }
    band = ("crps_" + variant + "_criteria_met") if met else "criteria_not_met"
    return InstrumentResult("budapest", None, band, met, (), reasons, details)


# --- ACR 2016 -------------------------------------------------------------------------------

_UPPER = ("jaw", "shoulder_girdle", "upper_arm", "lower_arm")
_LOWER = ("hip", "upper_leg", "lower_leg")
ACR_REGIONS: dict[str, tuple[str, ...]] = {
    "left_upper": _UPPER,
    "right_upper": _UPPER,
    "left_lower": _LOWER,
    "right_lower": _LOWER,
    "axial": ("neck", "upper_back", "lower_back", "chest", "abdomen"),
}
# Jaw, chest and abdominal pain are not part of the generalized-pain definition (Wolfe 2016).
ACR_NOT_GENERALIZED = frozenset({"jaw", "chest", "abdomen"})
ACR_SEVERITY_ITEMS = ("fatigue", "waking_unrefreshed", "cognitive_symptoms")
#: Severity of each symptom over the past week (Wolfe 2016).
ACR_SEVERITY_OPTIONS = {0: "none", 1: "mild/intermittent", 2: "moderate/often",
                        3: "severe/pervasive"}  # fmt: skip
ACR_SOMATIC_ITEMS = ("headaches", "lower_abdominal_pain_or_cramps", "depression")
ACR_KEYS = (
    "painful_areas",
    *ACR_SEVERITY_ITEMS,
    *ACR_SOMATIC_ITEMS,
    "symptoms_at_least_3_months",
)


def acr2016_template() -> InstrumentTemplate:
    items = [
        ItemSpec.boolean(
            f"painful_areas.{r}.{a}", "true/false", f"pain in {r} {a} in the past week"
        )
        for r, areas in ACR_REGIONS.items()
        for a in areas
    ]
    sev = f"integer 0-3 ({', '.join(f'{n} {w}' for n, w in ACR_SEVERITY_OPTIONS.items())})"
    items += [
        ItemSpec.integer(k, sev, k.replace("_", " "), 0, 3, labels=ACR_SEVERITY_OPTIONS)
        for k in ACR_SEVERITY_ITEMS
    ]
    items += [
        ItemSpec.boolean(k, "true/false", f"{k.replace('_', ' ')} in the past 6 months")
        for k in ACR_SOMATIC_ITEMS
    ]
    items.append(
        ItemSpec.boolean("symptoms_at_least_3_months", "true/false", "symptoms present >= 3 months")
    )
    skeleton: dict[str, Any] = {
        "painful_areas": {r: dict.fromkeys(a, False) for r, a in ACR_REGIONS.items()},
    }
    skeleton.update(dict.fromkeys(ACR_SEVERITY_ITEMS, 0))
    skeleton.update(dict.fromkeys(ACR_SOMATIC_ITEMS, False))
    skeleton["symptoms_at_least_3_months"] = False
    return InstrumentTemplate(
        instrument="acr2016",
        title="2016 revised ACR fibromyalgia diagnostic criteria",
        sources=("wolfe2016",),
        items=tuple(items),
        skeleton=skeleton,
        scoring="WPI 0-19 = painful areas; SSS 0-12 = fatigue + waking unrefreshed + cognitive "
        "(each 0-3) + 1 each for headaches, lower abdominal pain/cramps, depression. Met when "
        "(WPI >= 7 and SSS >= 5) or (WPI 4-6 and SSS >= 9), AND generalized pain (pain in >= 4 "
        "of 5 regions, jaw/chest/abdomen not counting), AND symptoms >= 3 months. score = "
        "null; wpi, sss, regions in details. Physician-rated use only for diagnosis.",
        licence="published diagnostic criteria; free to use",
        wording_source="Wolfe 2016, paraphrased",
    )


def score_acr2016(answers: object) -> InstrumentResult:
    data = as_mapping(answers, "")
    check_keys(data, "", ACR_KEYS)
    areas = as_mapping(data["painful_areas"], "painful_areas")
    check_keys(areas, "painful_areas", ACR_REGIONS)
    wpi = 0
    generalized_regions: list[str] = []
    for region, names in ACR_REGIONS.items():
        path = join("painful_areas", region)
        inner = as_mapping(areas[region], path)
        check_keys(inner, path, names)
        painful = [a for a in names if as_bool(inner[a], join(path, a))]
        wpi += len(painful)
        if any(a not in ACR_NOT_GENERALIZED for a in painful):
            generalized_regions.append(region)
    lo, hi = min(ACR_SEVERITY_OPTIONS), max(ACR_SEVERITY_OPTIONS)
    sss = sum(as_int(data[k], k, lo, hi) for k in ACR_SEVERITY_ITEMS)
    sss += sum(1 for k in ACR_SOMATIC_ITEMS if as_bool(data[k], k))
    duration = as_bool(data["symptoms_at_least_3_months"], "symptoms_at_least_3_months")
    threshold = (wpi >= 7 and sss >= 5) or (4 <= wpi <= 6 and sss >= 9)
    generalized = len(generalized_regions) >= 4
    met = threshold and generalized and duration
    reasons = (
        f"WPI {wpi}/19, SSS {sss}/12: "
        f"{'meets' if threshold else 'does not meet'} (WPI>=7 and SSS>=5) or (WPI 4-6 and SSS>=9)",
        f"generalized pain in {len(generalized_regions)} of 5 regions (needs 4; jaw, chest and "
        f"abdomen do not count): {'met' if generalized else 'not met'}",
        f"symptoms for at least 3 months: {'yes' if duration else 'no'}",
    )
    details = {
        "wpi": wpi,
        "sss": sss,
        "generalized_pain_regions": generalized_regions,
        "threshold_met": threshold,
        "generalized_pain": generalized,
        "duration_met": duration,
    }
    band = "fibromyalgia_criteria_met" if met else "criteria_not_met"
    return InstrumentResult("acr2016", None, band, met, (), reasons, details)


for _inst in (
    Instrument("budapest", "Budapest criteria (CRPS)", budapest_template, score_budapest),
    Instrument("acr2016", "ACR 2016 fibromyalgia criteria", acr2016_template, score_acr2016),
):
    register(_inst)
