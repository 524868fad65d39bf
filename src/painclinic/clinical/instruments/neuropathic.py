"""Neuropathic-pain screening: DN4, DN4-interview, LANSS."""

from __future__ import annotations

from painclinic.clinical._validate import as_bool, as_mapping, check_keys
from painclinic.clinical.instruments.base import (
    Instrument,
    InstrumentResult,
    InstrumentTemplate,
    ItemSpec,
    register,
)

DN4_INTERVIEW_ITEMS = {
    "burning": "pain has the characteristic of burning",
    "painful_cold": "pain has the characteristic of painful cold",
    "electric_shocks": "pain has the characteristic of electric shocks",
    "tingling": "pain is associated with tingling in the same area",
    "pins_and_needles": "pain is associated with pins and needles",
    "numbness": "pain is associated with numbness",
    "itching": "pain is associated with itching",
}
DN4_EXAM_ITEMS = {
    "hypoesthesia_to_touch": "examination: hypoaesthesia to touch in the painful area",
    "hypoesthesia_to_pinprick": "examination: hypoaesthesia to pinprick in the painful area",
    "pain_increased_by_brushing": "examination: pain caused or increased by brushing",
}
DN4_ITEMS = {**DN4_INTERVIEW_ITEMS, **DN4_EXAM_ITEMS}
YES_NO = {True: "yes", False: "no"}

LANSS_ITEMS = {
    # key: (points if yes, wording); weights from Bennett 2001 [S]
    "dysesthesia": (5, "pain feels like strange unpleasant sensations (pricking, tingling)"),
    "skin_appearance_change": (5, "skin in the painful area looks different (mottled, red)"),
    "abnormal_touch_sensitivity": (3, "painful area abnormally sensitive to touch"),
    "paroxysmal_pain": (2, "sudden bursts of pain for no apparent reason (electric shocks)"),
    "thermal_burning": (1, "skin temperature in the painful area feels abnormal (hot, burning)"),
    "allodynia_cotton_wool": (5, "examination: allodynia to cotton wool"),
    "altered_pinprick_threshold": (3, "examination: altered pinprick threshold (23-gauge needle)"),
}


def _yes_no_template(
    name: str, title: str, items: dict[str, str], cutoff: int, source_note: str
) -> InstrumentTemplate:
    return InstrumentTemplate(
        instrument=name,
        title=title,
        sources=("bouhassira2005",),
        items=tuple(
            ItemSpec.boolean(k, "true (yes) or false (no)", w, labels=YES_NO)
            for k, w in items.items()
        ),
        skeleton=dict.fromkeys(items, False),
        scoring=f"1 point per yes, total 0-{len(items)}; met (neuropathic pain likely) at "
        f"{cutoff} or more{source_note}",
        licence="free for clinical use [U: licence terms not confirmed]",
        wording_source="DN4 (Bouhassira 2005), items paraphrased",
    )


def _score_yes_no(
    name: str, items: dict[str, str], cutoff: int, answers: object
) -> InstrumentResult:
    data = as_mapping(answers, "")
    check_keys(data, "", items)
    positives = [k for k in items if as_bool(data[k], k)]
    total = len(positives)
    met = total >= cutoff
    band = "neuropathic_likely" if met else "neuropathic_unlikely"
    reasons = (f"{total} of {len(items)} items yes (cut-off {cutoff})",)
    return InstrumentResult(name, total, band, met, (), reasons)


def dn4_template() -> InstrumentTemplate:
    return _yes_no_template("dn4", "DN4 (Douleur Neuropathique 4), 10 items", DN4_ITEMS, 4, "")


def score_dn4(answers: object) -> InstrumentResult:
    return _score_yes_no("dn4", DN4_ITEMS, 4, answers)


def dn4_interview_template() -> InstrumentTemplate:
    return _yes_no_template(
        "dn4_interview",
        "DN4-interview (7 self-report items)",
        DN4_INTERVIEW_ITEMS,
        3,
        " (cut-off 3 is [S2])",
    )


def score_dn4_interview(answers: object) -> InstrumentResult:
    return _score_yes_no("dn4_interview", DN4_INTERVIEW_ITEMS, 3, answers)


def lanss_template() -> InstrumentTemplate:
    return InstrumentTemplate(
        instrument="lanss",
        title="Leeds Assessment of Neuropathic Symptoms and Signs",
        sources=("bennett2001",),
        items=tuple(
            ItemSpec.boolean(
                k,
                f"true (yes, {pts} points) or false (no, 0)",
                w,
                labels={True: f"yes ({pts} points)", False: "no (0 points)"},
            )
            for k, (pts, w) in LANSS_ITEMS.items()
        ),
        skeleton=dict.fromkeys(LANSS_ITEMS, False),
        scoring="weighted sum 0-24 (5,5,3,2,1 symptoms; 5,3 examination); met (neuropathic "
        "mechanisms likely) at 12 or more",
        licence="free for clinical use [U: licence terms not confirmed]",
        wording_source="LANSS (Bennett 2001), items paraphrased",
    )


def score_lanss(answers: object) -> InstrumentResult:
    data = as_mapping(answers, "")
    check_keys(data, "", LANSS_ITEMS)
    total = sum(pts for k, (pts, _) in LANSS_ITEMS.items() if as_bool(data[k], k))
    met = total >= 12
    band = "neuropathic_likely" if met else "neuropathic_unlikely"
    return InstrumentResult("lanss", total, band, met, (), (f"total {total}/24 (cut-off 12)",))


for _inst in (
    Instrument("dn4", "DN4", dn4_template, score_dn4),
    Instrument("dn4_interview", "DN4-interview", dn4_interview_template, score_dn4_interview),
    Instrument("lanss", "LANSS", lanss_template, score_lanss),
):
    register(_inst)
