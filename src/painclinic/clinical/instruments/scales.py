"""Single-score scales: NRS, PGIC, PHQ-9, BPI-SF, RASS, MOAA/S, CADSS-6, modified Aldrete,
modified PADSS."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from painclinic.clinical._validate import (
    as_bool,
    as_int,
    as_list,
    as_mapping,
    as_str,
    check_keys,
    join,
)
from painclinic.clinical.errors import ClinicalInputError
from painclinic.clinical.instruments.base import (
    Instrument,
    InstrumentResult,
    InstrumentTemplate,
    ItemKind,
    ItemSpec,
    register,
)
from painclinic.clinical.policy import load_policy

FREE = "free to use"


def _policy_value(section: str, key: str, policy_dir: str | Path | None) -> Any:
    policy = load_policy("instrument_policy.json", policy_dir)
    try:
        return policy[section][key]["value"]
    except (KeyError, TypeError):
        raise ClinicalInputError(
            f"instrument_policy.json:{section}.{key}.value", "missing from policy file"
        ) from None


# --- NRS ------------------------------------------------------------------------------------

#: 0 = no pain, 10 = worst possible pain (IMMPACT, Dworkin 2008).
NRS_RANGE = (0, 10)


def nrs_template() -> InstrumentTemplate:
    return InstrumentTemplate(
        instrument="nrs",
        title="Numeric rating scale for pain intensity, 0-10",
        sources=("dworkin2008",),
        items=(
            ItemSpec.integer(
                "score", "integer 0-10", "0 = no pain, 10 = worst possible pain", *NRS_RANGE
            ),
        ),
        skeleton={"score": 0},
        scoring="score is the rating; no band (no banding source in the clinic reference)",
        licence=FREE,
        wording_source="IMMPACT (Dworkin 2008) core outcome; LOINC 72514-3",
    )


def score_nrs(answers: object) -> InstrumentResult:
    data = as_mapping(answers, "")
    check_keys(data, "", ["score"])
    value = as_int(data["score"], "score", *NRS_RANGE)
    return InstrumentResult("nrs", value, None, None, (), (f"pain intensity {value}/10",))


# --- PGIC -----------------------------------------------------------------------------------

PGIC_LABELS = {
    1: "very_much_improved",
    2: "much_improved",
    3: "minimally_improved",
    4: "no_change",
    5: "minimally_worse",
    6: "much_worse",
    7: "very_much_worse",
}


def pgic_template() -> InstrumentTemplate:
    allowed = ", ".join(f"{k} {v}" for k, v in PGIC_LABELS.items())
    return InstrumentTemplate(
        instrument="pgic",
        title="Patient Global Impression of Change, 1-7",
        sources=("pgic_ninds",),
        items=(
            ItemSpec.integer(
                "score",
                f"integer 1-7: {allowed}",
                "Since starting treatment ...",
                min(PGIC_LABELS),
                max(PGIC_LABELS),
                labels=PGIC_LABELS,
            ),
        ),
        # 0 is not a valid PGIC answer, so the skeleton uses the neutral 4 (no change).
        skeleton={"score": 4},
        scoring="score is the answer; band is its label; lower is better",
        licence="public domain (NINDS CDE)",
        wording_source="NINDS Common Data Elements",
    )


def score_pgic(answers: object) -> InstrumentResult:
    data = as_mapping(answers, "")
    check_keys(data, "", ["score"])
    value = as_int(data["score"], "score", min(PGIC_LABELS), max(PGIC_LABELS))
    return InstrumentResult("pgic", value, PGIC_LABELS[value], None, (), (PGIC_LABELS[value],))


# --- PHQ-9 ----------------------------------------------------------------------------------

PHQ9_ITEMS = (
    "little interest or pleasure in doing things",
    "feeling down, depressed, or hopeless",
    "trouble falling or staying asleep, or sleeping too much",
    "feeling tired or having little energy",
    "poor appetite or overeating",
    "feeling bad about yourself",
    "trouble concentrating",
    "moving or speaking slowly, or being fidgety or restless",
    "thoughts that you would be better off dead or of hurting yourself",
)
#: Answer options of every PHQ-9 item (past 2 weeks), Kroenke 2001.
PHQ9_OPTIONS = {0: "not at all", 1: "several days", 2: "more than half the days",
                3: "nearly every day"}  # fmt: skip
PHQ9_BANDS = ((0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"),
              (15, 19, "moderately_severe"), (20, 27, "severe"))  # fmt: skip


def phq9_band(total: int) -> str:
    for lo, hi, band in PHQ9_BANDS:
        if lo <= total <= hi:
            return band
    raise ClinicalInputError("score", f"PHQ-9 total out of range: {total}")


def phq9_template() -> InstrumentTemplate:
    allowed = f"integer 0-3 ({', '.join(f'{k} {v}' for k, v in PHQ9_OPTIONS.items())})"
    return InstrumentTemplate(
        instrument="phq9",
        title="Patient Health Questionnaire-9 (past 2 weeks)",
        sources=("kroenke2001",),
        items=tuple(
            ItemSpec.integer(f"items[{i}]", allowed, w, 0, 3, labels=PHQ9_OPTIONS)
            for i, w in enumerate(PHQ9_ITEMS)
        ),
        skeleton={"items": [0] * 9},
        scoring="total 0-27; bands minimal 0-4, mild 5-9, moderate 10-14, moderately_severe "
        "15-19, severe 20-27; items[8] > 0 adds flag self_harm_risk whatever the total; "
        "met = total >= 10 (sensitivity/specificity 88% for major depression [S2])",
        licence="free to use (Pfizer; no permission required)",
        wording_source="PHQ-9 (Kroenke 2001); item text abridged",
    )


def score_phq9(answers: object) -> InstrumentResult:
    data = as_mapping(answers, "")
    check_keys(data, "", ["items"])
    items = as_list(data["items"], "items", 9)
    values = [as_int(v, f"items[{i}]", min(PHQ9_OPTIONS), max(PHQ9_OPTIONS))
              for i, v in enumerate(items)]  # fmt: skip
    total = sum(values)
    band = phq9_band(total)
    flags: list[str] = []
    reasons = [f"total {total}/27: {band}"]
    if values[8] > 0:
        flags.append("self_harm_risk")
        reasons.append(
            f"item 9 (thoughts of self-harm) answered {values[8]}: immediate follow-up "
            "needed whatever the total"
        )
    return InstrumentResult("phq9", total, band, total >= 10, tuple(flags), tuple(reasons))


# --- BPI short form -------------------------------------------------------------------------

BPI_SEVERITY = ("worst", "least", "average", "now")
#: Every severity and interference rating is 0-10; relief is 0-100% in steps of 10%.
BPI_RATING_RANGE = (0, 10)
BPI_RELIEF_RANGE = (0, 100)
BPI_RELIEF_STEP = 10
BPI_INTERFERENCE = (
    "general_activity",
    "mood",
    "walking_ability",
    "normal_work",
    "relations_with_others",
    "sleep",
    "enjoyment_of_life",
)


def bpi_template() -> InstrumentTemplate:
    sev = "integer 0-10 or null if not answered"

    def rating(key: str, wording: str) -> ItemSpec:
        return ItemSpec.integer(key, sev, wording, *BPI_RATING_RANGE, optional=True)

    items = [rating(f"severity.{k}", f"pain at its {k} (last 24 h)") for k in BPI_SEVERITY]
    items.append(
        ItemSpec.integer(
            "relief_percent",
            "0-100 in steps of 10, or null",
            "relief from treatment",
            *BPI_RELIEF_RANGE,
            step=BPI_RELIEF_STEP,
            optional=True,
        )
    )
    items += [
        rating(f"interference.{k}", f"pain interfered with {k.replace('_', ' ')}")
        for k in BPI_INTERFERENCE
    ]
    return InstrumentTemplate(
        instrument="bpi",
        title="Brief Pain Inventory, short form",
        sources=("bpi_cleeland",),
        items=tuple(items),
        skeleton={
            "severity": dict.fromkeys(BPI_SEVERITY, 0),
            "relief_percent": 0,
            "interference": dict.fromkeys(BPI_INTERFERENCE, 0),
        },
        scoring="severity = mean of the 4 severity items; interference = mean of the 7 "
        "interference items; missing-item rule from instrument_policy.json (defaults: "
        "severity needs all 4 - clinic policy, no published source; interference needs at "
        "least 4 of 7 - [U] user-guide rule). score = null; sub-scores in details",
        licence="COPYRIGHTED: the BPI is licensed (licensor MD Anderson [U]); fees are listed "
        "for clinical use. The clinic must hold a licence before using the BPI wording.",
        wording_source="item keys only; BPI wording is not reproduced (copyright)",
    )


def score_bpi(answers: object, policy_dir: str | Path | None = None) -> InstrumentResult:
    data = as_mapping(answers, "")
    check_keys(data, "", ["severity", "interference"], ["relief_percent"])
    sev_map = as_mapping(data["severity"], "severity")
    check_keys(sev_map, "severity", BPI_SEVERITY)
    int_map = as_mapping(data["interference"], "interference")
    check_keys(int_map, "interference", BPI_INTERFERENCE)

    def collect(mapping: Any, path: str, keys: tuple[str, ...]) -> list[int]:
        return [
            as_int(mapping[k], join(path, k), *BPI_RATING_RANGE)
            for k in keys
            if mapping[k] is not None
        ]

    sev = collect(sev_map, "severity", BPI_SEVERITY)
    inter = collect(int_map, "interference", BPI_INTERFERENCE)
    relief = data.get("relief_percent")
    if relief is not None:
        relief = as_int(relief, "relief_percent", *BPI_RELIEF_RANGE)
        if relief % BPI_RELIEF_STEP:
            raise ClinicalInputError(
                "relief_percent", f"must be a multiple of {BPI_RELIEF_STEP}, got {relief}"
            )
    min_sev = int(_policy_value("bpi", "min_severity_items", policy_dir))
    min_int = int(_policy_value("bpi", "min_interference_items", policy_dir))
    reasons: list[str] = []
    severity = round(sum(sev) / len(sev), 2) if sev and len(sev) >= min_sev else None
    interference = round(sum(inter) / len(inter), 2) if inter and len(inter) >= min_int else None
    if severity is None:
        reasons.append(f"severity not scored: {len(sev)} of 4 items answered, {min_sev} needed")
    else:
        reasons.append(f"severity {severity} (mean of {len(sev)} items)")
    if interference is None:
        reasons.append(
            f"interference not scored: {len(inter)} of 7 items answered, {min_int} needed"
        )
    else:
        reasons.append(f"interference {interference} (mean of {len(inter)} items)")
    details = {
        "severity": severity,
        "interference": interference,
        "relief_percent": relief,
        "severity_items_answered": len(sev),
        "interference_items_answered": len(inter),
    }
    return InstrumentResult("bpi", None, None, None, (), tuple(reasons), details)


# --- RASS -----------------------------------------------------------------------------------

RASS_LABELS = {
    4: "combative",
    3: "very_agitated",
    2: "agitated",
    1: "restless",
    0: "alert_and_calm",
    -1: "drowsy",
    -2: "light_sedation",
    -3: "moderate_sedation",
    -4: "deep_sedation",
    -5: "unarousable",
}


def rass_template() -> InstrumentTemplate:
    allowed = ", ".join(f"{k:+d} {v}" if k else f"0 {v}" for k, v in RASS_LABELS.items())
    return InstrumentTemplate(
        instrument="rass",
        title="Richmond Agitation-Sedation Scale, -5 to +4",
        sources=("sessler2002",),
        items=(
            ItemSpec.integer(
                "score",
                f"integer -5 to +4: {allowed}",
                "observer rating",
                min(RASS_LABELS),
                max(RASS_LABELS),
                labels=RASS_LABELS,
            ),
        ),
        skeleton={"score": 0},
        scoring="score is the rating; band its label; action thresholds live in "
        "monitoring_thresholds.json",
        licence=FREE,
        wording_source="Sessler 2002",
    )


def score_rass(answers: object) -> InstrumentResult:
    data = as_mapping(answers, "")
    check_keys(data, "", ["score"])
    value = as_int(data["score"], "score", min(RASS_LABELS), max(RASS_LABELS))
    return InstrumentResult("rass", value, RASS_LABELS[value], None, (), (RASS_LABELS[value],))


# --- MOAA/S ---------------------------------------------------------------------------------

MOAAS_LABELS = {
    5: "responds_readily_to_name",
    4: "lethargic_response_to_name",
    3: "responds_only_to_loud_or_repeated_name",
    2: "responds_only_to_mild_prodding",
    1: "no_response_to_mild_prodding",
    0: "no_response_to_pain",
}


def moaas_template() -> InstrumentTemplate:
    allowed = ", ".join(f"{k} {v}" for k, v in MOAAS_LABELS.items())
    return InstrumentTemplate(
        instrument="moaas",
        title="Modified Observer's Assessment of Alertness/Sedation, 0-5",
        sources=("chernik1990",),
        items=(
            ItemSpec.integer(
                "score",
                f"integer 0-5: {allowed}",
                "observer rating",
                min(MOAAS_LABELS),
                max(MOAAS_LABELS),
                labels=MOAAS_LABELS,
            ),
        ),
        skeleton={"score": 0},
        scoring="score is the rating (5 = awake); band its label",
        licence=FREE,
        wording_source="Chernik 1990",
    )


def score_moaas(answers: object) -> InstrumentResult:
    data = as_mapping(answers, "")
    check_keys(data, "", ["score"])
    value = as_int(data["score"], "score", min(MOAAS_LABELS), max(MOAAS_LABELS))
    label = MOAAS_LABELS[value]
    return InstrumentResult("moaas", value, label, None, (), (label,))


# --- CADSS-6 --------------------------------------------------------------------------------

#: Each CADSS item is rated 0 (not at all) to 4 (extremely) [U].
CADSS_ITEM_RANGE = (0, 4)


def cadss6_template() -> InstrumentTemplate:
    numbers = _policy_value("cadss6", "item_numbers", None)
    return InstrumentTemplate(
        instrument="cadss6",
        title="Clinician-Administered Dissociative States Scale, 6-item short form",
        sources=("bremner1998", "rodrigues2021"),
        items=tuple(
            ItemSpec.integer(
                f"items[{i}]",
                "integer 0-4",
                f"CADSS item {n} (wording not reproduced)",
                *CADSS_ITEM_RANGE,
            )
            for i, n in enumerate(numbers)
        ),
        skeleton={"items": [0] * len(numbers)},
        scoring="total of 6 items each 0-4, range 0-24 (item range 0-4 is [U]); no band; "
        "action threshold lives in monitoring_thresholds.json",
        licence="LICENCE UNCLEAR [U]: the CADSS (Bremner 1998) licence has not been "
        "confirmed; the clinic must confirm permission before using the item wording. Only "
        "the item numbers are shipped here.",
        wording_source="CADSS (Bremner 1998); CADSS-6 item selection (Rodrigues 2021)",
    )


def score_cadss6(answers: object, policy_dir: str | Path | None = None) -> InstrumentResult:
    numbers = _policy_value("cadss6", "item_numbers", policy_dir)
    data = as_mapping(answers, "")
    check_keys(data, "", ["items"])
    items = as_list(data["items"], "items", len(numbers))
    total = sum(as_int(v, f"items[{i}]", *CADSS_ITEM_RANGE) for i, v in enumerate(items))
    reason = f"CADSS-6 total {total}/{CADSS_ITEM_RANGE[1] * len(numbers)} (CADSS items {numbers})"
    return InstrumentResult("cadss6", total, None, None, (), (reason,))


# --- modified Aldrete -----------------------------------------------------------------------

#: Each item scores 2, 1 or 0 points; the labels say what earns them (Aldrete 1995).
ALDRETE_ITEMS: dict[str, dict[int, str]] = {
    "activity": {
        2: "moves 4 extremities on command",
        1: "moves 2 extremities",
        0: "moves none",
    },
    "respiration": {
        2: "breathes deeply and coughs freely",
        1: "dyspnoea or limited breathing",
        0: "apnoeic",
    },
    "circulation": {
        2: "BP within 20% of pre-procedure level",
        1: "within 20-49%",
        0: "differs by 50% or more",
    },
    "consciousness": {2: "fully awake", 1: "arousable on calling", 0: "not responding"},
    "oxygen_saturation": {
        2: "SpO2 above 92% on room air",
        1: "needs O2 to keep SpO2 above 90%",
        0: "SpO2 below 90% even with O2",
    },
}


def _points_items(table: Mapping[str, Mapping[int, str]]) -> tuple[ItemSpec, ...]:
    """One 0-2 item per row of a recovery or discharge score (Aldrete, PADSS)."""
    return tuple(
        ItemSpec.integer(
            k,
            "integer 0-2: " + ", ".join(f"{n} {w}" for n, w in points.items()),
            k,
            min(points),
            max(points),
            labels=points,
        )
        for k, points in table.items()
    )


def _score_discharge(
    instrument: str,
    table: Mapping[str, Mapping[int, str]],
    answers: object,
    what: str,
    policy_dir: str | Path | None,
) -> InstrumentResult:
    """Total of a 0-10 discharge score, met at the clinic's ``discharge_min_score``."""
    data = as_mapping(answers, "")
    check_keys(data, "", table)
    total = sum(as_int(data[k], k, min(p), max(p)) for k, p in table.items())
    threshold = int(_policy_value(instrument, "discharge_min_score", policy_dir))
    met = total >= threshold
    reason = f"total {total}/10; {what} needs {threshold} or more"
    band = "discharge_ready" if met else "not_ready"
    return InstrumentResult(instrument, total, band, met, (), (reason,))


def aldrete_template() -> InstrumentTemplate:
    return InstrumentTemplate(
        instrument="aldrete",
        title="Modified Aldrete post-anaesthesia recovery score, 0-10",
        sources=("aldrete1995",),
        items=_points_items(ALDRETE_ITEMS),
        skeleton=dict.fromkeys(ALDRETE_ITEMS, 0),
        scoring="total 0-10; met (ready for discharge) at the policy score, default 9 [U]",
        licence=FREE,
        wording_source="Aldrete 1995 [U: not verified against the paper]",
    )


def score_aldrete(answers: object, policy_dir: str | Path | None = None) -> InstrumentResult:
    return _score_discharge("aldrete", ALDRETE_ITEMS, answers, "discharge", policy_dir)


# --- modified PADSS -------------------------------------------------------------------------

#: Modified Post-Anesthetic Discharge Scoring System (Chung 1995 [S2]): 2, 1 or 0 points each.
#: For an infusion the "surgical bleeding" item is bleeding at the cannula site.
PADSS_ITEMS: dict[str, dict[int, str]] = {
    "vital_signs": {
        2: "BP and heart rate within 20% of the pre-infusion value",
        1: "within 20-40%",
        0: "more than 40% away",
    },
    "activity": {
        2: "steady gait, no dizziness, or at the pre-infusion level",
        1: "needs assistance to walk",
        0: "unable to walk",
    },
    "nausea_vomiting": {
        2: "none or minimal, or treated with oral medication",
        1: "moderate, or treated with injected medication",
        0: "severe, continues despite treatment",
    },
    "pain": {2: "minimal", 1: "moderate", 0: "severe"},
    "bleeding": {
        2: "none or minimal, no dressing change",
        1: "moderate, up to 2 dressing changes",
        0: "severe, more than 3 dressing changes",
    },
}


def padss_template() -> InstrumentTemplate:
    return InstrumentTemplate(
        instrument="padss",
        title="Modified Post-Anesthetic Discharge Scoring System (PADSS), 0-10",
        sources=("chung1995_padss",),
        items=_points_items(PADSS_ITEMS),
        skeleton=dict.fromkeys(PADSS_ITEMS, 0),
        scoring="total 0-10; met (fit for home discharge) at the policy score, default 9 [S2]",
        licence=FREE,
        wording_source="Chung 1995, modified PADSS as tabulated in secondary copies [S2]",
    )


def score_padss(answers: object, policy_dir: str | Path | None = None) -> InstrumentResult:
    return _score_discharge("padss", PADSS_ITEMS, answers, "home discharge", policy_dir)


# --- Side effects since the last infusion (follow-up) ------------------------------------------

SIDE_EFFECT_KINDS = {
    "none_of_these": "none of these, something else",
    "nausea_vomiting": "nausea or vomiting",
    "dizziness": "dizziness or feeling faint",
    "hallucinations_dreams": "hallucinations, vivid dreams or feeling detached",
    "mood_anxiety": "low mood or anxiety",
    "bladder": "pain or burning passing urine, passing urine often",
    "headache": "headache",
    "palpitations": "a racing or irregular heartbeat",
}


def side_effects_template() -> InstrumentTemplate:
    return InstrumentTemplate(
        instrument="side_effects",
        title="New side effects since the last infusion (clinic follow-up question)",
        sources=("clinic_policy",),
        items=(
            ItemSpec.boolean(
                "new_side_effect",
                "true or false",
                "Since your last infusion, have you had a new side effect or felt unwell in a "
                "way you think may be from the treatment?",
                labels={True: "yes", False: "no"},
            ),
            ItemSpec(
                "kind",
                "one of " + ", ".join(SIDE_EFFECT_KINDS) + ", or null",
                "Which one was it? (the main one)",
                ItemKind.CHOICE,
                options=tuple(SIDE_EFFECT_KINDS.items()),
                optional=True,
            ),
        ),
        skeleton={"new_side_effect": False, "kind": "none_of_these"},
        scoring="score 1 when a new side effect is reported, else 0; band names the kind",
        licence="clinic wording, no licence needed",
        wording_source="clinic policy (written for this follow-up; not a validated instrument)",
    )


def score_side_effects(answers: object) -> InstrumentResult:
    data = as_mapping(answers, "")
    check_keys(data, "", ["new_side_effect"], ["kind"])
    reported = as_bool(data["new_side_effect"], "new_side_effect")
    kind = data.get("kind")
    if kind is not None:
        kind = as_str(kind, "kind", SIDE_EFFECT_KINDS)
    if not reported:
        return InstrumentResult("side_effects", 0, None, None, (), ("no new side effect",))
    label = SIDE_EFFECT_KINDS.get(kind or "", "not said which")
    return InstrumentResult(
        "side_effects", 1, label, True, ("new_side_effect",), (f"new side effect: {label}",)
    )


def discharge_min_score(instrument: str, policy_dir: str | Path | None = None) -> int:
    """The discharge score of ``aldrete`` or ``padss`` in ``instrument_policy.json``."""
    if instrument not in ("aldrete", "padss"):
        raise ClinicalInputError("instrument", f"no discharge score for {instrument!r}")
    return int(_policy_value(instrument, "discharge_min_score", policy_dir))


for _inst in (
    Instrument("nrs", "Numeric rating scale", nrs_template, score_nrs),
    Instrument("pgic", "Patient Global Impression of Change", pgic_template, score_pgic),
    Instrument("phq9", "PHQ-9", phq9_template, score_phq9),
    Instrument("bpi", "Brief Pain Inventory (short form)", bpi_template, score_bpi),
    Instrument("rass", "Richmond Agitation-Sedation Scale", rass_template, score_rass),
    Instrument("moaas", "MOAA/S", moaas_template, score_moaas),
    Instrument("cadss6", "CADSS-6", cadss6_template, score_cadss6),
    Instrument("aldrete", "Modified Aldrete score", aldrete_template, score_aldrete),
    Instrument("padss", "Modified PADSS", padss_template, score_padss),
    Instrument(
        "side_effects",
        "New side effects since the last infusion",
        side_effects_template,
        score_side_effects,
    ),
):
    register(_inst)
