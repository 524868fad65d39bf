"""Every instrument item's structured spec matches the published instrument, and the scorer agrees.

The expected ranges, steps and labels below are written from the instruments' definitions (the
sources each template cites), not from the code: NRS 0-10 (IMMPACT, Dworkin 2008); PGIC 1-7
(NINDS CDE); PHQ-9 nine items 0-3 (Kroenke 2001); BPI short form four severity and seven
interference ratings 0-10 and relief 0-100% in steps of 10% (Cleeland); RASS -5 to +4 (Sessler
2002); MOAA/S 0-5 (Chernik 1990); CADSS items 0-4 (Bremner 1998; six items, Rodrigues 2021);
modified Aldrete five items 0-2 (Aldrete 1995); modified PADSS five items 0-2 (Chung 1995);
ACR 2016 19 painful areas, three severity items 0-3, three somatic yes/no items (Wolfe 2016);
Budapest symptoms and signs yes/no in four categories, clinical or research criteria (Harden
2010); DN4 ten yes/no items, DN4-interview the seven interview items (Bouhassira 2005); LANSS
seven yes/no items (Bennett 2001).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from painclinic.clinical import ClinicalInputError
from painclinic.clinical.instruments import INSTRUMENTS, ItemKind, ItemSpec, score, template

INTEGER, BOOLEAN, CHOICE = ItemKind.INTEGER, ItemKind.BOOLEAN, ItemKind.CHOICE


def published(instrument: str, key: str) -> tuple[ItemKind, int | None, int | None, int, bool]:
    """(kind, minimum, maximum, step, optional) of one item, from the instrument's definition."""
    leaf = key.split(".")[-1]
    match instrument:
        case "nrs":
            return INTEGER, 0, 10, 1, False
        case "pgic":
            return INTEGER, 1, 7, 1, False
        case "phq9":
            return INTEGER, 0, 3, 1, False
        case "bpi" if key == "relief_percent":
            return INTEGER, 0, 100, 10, True
        case "bpi":
            return INTEGER, 0, 10, 1, True  # any rating may be left blank
        case "rass":
            return INTEGER, -5, 4, 1, False
        case "moaas":
            return INTEGER, 0, 5, 1, False
        case "cadss6":
            return INTEGER, 0, 4, 1, False
        case "aldrete" | "padss":
            return INTEGER, 0, 2, 1, False
        case "acr2016" if leaf in ("fatigue", "waking_unrefreshed", "cognitive_symptoms"):
            return INTEGER, 0, 3, 1, False
        case "budapest" if key == "variant":
            return CHOICE, None, None, 1, False
        case "acr2016" | "budapest" | "dn4" | "dn4_interview" | "lanss":
            return BOOLEAN, None, None, 1, False
        # The clinic's own follow-up question (not a published instrument): its definition is
        # the clinic's wording in docs/clinical-rules.md.
        case "side_effects" if key == "new_side_effect":
            return BOOLEAN, None, None, 1, False
        case "side_effects" if key == "kind":
            return CHOICE, None, None, 1, True
    raise AssertionError(f"no published definition for {instrument}.{key}")


# Number of items of each instrument (published counts).
ITEM_COUNTS = {
    "nrs": 1,
    "pgic": 1,
    "phq9": 9,
    "bpi": 4 + 7 + 1,
    "rass": 1,
    "moaas": 1,
    "cadss6": 6,
    "aldrete": 5,
    "padss": 5,
    "side_effects": 2,  # the clinic's question: yes/no and which one
    "acr2016": 19 + 3 + 3 + 1,
    # variant, A, symptoms (2+3+3+7), signs (4+3+3+7), D
    "budapest": 1 + 1 + 15 + 17 + 1,
    "dn4": 10,
    "dn4_interview": 7,
    "lanss": 7,
}

# Published answer labels (compared with underscores read as spaces, case-insensitive).
LABELS: dict[str, dict[Any, str]] = {
    "pgic": {
        1: "very much improved",
        2: "much improved",
        3: "minimally improved",
        4: "no change",
        5: "minimally worse",
        6: "much worse",
        7: "very much worse",
    },
    "phq9": {
        0: "not at all",
        1: "several days",
        2: "more than half the days",
        3: "nearly every day",
    },
    "rass": {
        4: "combative",
        3: "very agitated",
        2: "agitated",
        1: "restless",
        0: "alert and calm",
        -1: "drowsy",
        -2: "light sedation",
        -3: "moderate sedation",
        -4: "deep sedation",
        -5: "unarousable",
    },
    "moaas": {5: "responds readily to name", 0: "no response to pain"},
    "acr2016": {0: "none", 3: "severe/pervasive"},
}

# Modified Aldrete: what earns 2 points on each item (Aldrete 1995).
ALDRETE_TWO_POINTS = {
    "activity": "4 extremities",
    "respiration": "breathes deeply",
    "circulation": "within 20%",
    "consciousness": "fully awake",
    "oxygen_saturation": "above 92%",
}

# Modified PADSS: what earns 2 points on each item (Chung 1995, as tabulated in the secondary
# copies the source cites: clinician.com and World J Gastrointest Endosc 2013 Table 1).
PADSS_TWO_POINTS = {
    "vital_signs": "within 20%",
    "activity": "steady gait",
    "nausea_vomiting": "minimal",
    "pain": "minimal",
    "bleeding": "minimal",
}

LANSS_POINTS = {
    "dysesthesia": 5,
    "skin_appearance_change": 5,
    "abnormal_touch_sensitivity": 3,
    "paroxysmal_pain": 2,
    "thermal_burning": 1,
    "allodynia_cotton_wool": 5,
    "altered_pinprick_threshold": 3,
}

ITEMS = [(name, spec) for name in sorted(INSTRUMENTS) for spec in template(name).items]


def item_id(param: Any) -> str:
    return param.key if isinstance(param, ItemSpec) else str(param)


def _tokens(key: str) -> list[str | int]:
    return [n if n else int(i) for n, i in re.findall(r"([^.\[\]]+)|\[(\d+)\]", key)]


def answers_with(instrument: str, key: str, value: Any) -> dict[str, Any]:
    answers = copy.deepcopy(dict(template(instrument).skeleton))
    node: Any = answers
    tokens = _tokens(key)
    for token in tokens[:-1]:
        node = node[token]
    node[tokens[-1]] = value
    return answers


def refused(instrument: str, key: str, value: Any) -> None:
    with pytest.raises(ClinicalInputError) as info:
        score(instrument, answers_with(instrument, key, value))
    assert info.value.field == key


def normal(text: str) -> str:
    return text.replace("_", " ").lower()


def test_item_counts_are_the_published_counts() -> None:
    assert {n: len(template(n).items) for n in INSTRUMENTS} == ITEM_COUNTS


@pytest.mark.parametrize(("instrument", "spec"), ITEMS, ids=item_id)
def test_structured_fields_match_the_published_instrument(instrument: str, spec: ItemSpec) -> None:
    kind, minimum, maximum, step, optional = published(instrument, spec.key)
    assert (spec.kind, spec.minimum, spec.maximum, spec.step, spec.optional) == (
        kind,
        minimum,
        maximum,
        step,
        optional,
    )
    assert spec.allowed and spec.wording  # the prose for people is kept


@pytest.mark.parametrize(("instrument", "spec"), ITEMS, ids=item_id)
def test_the_skeleton_answer_is_an_allowed_value(instrument: str, spec: ItemSpec) -> None:
    node: Any = template(instrument).skeleton
    for token in _tokens(spec.key):
        node = node[token]
    assert node in list(spec.values()) and type(node) is type(next(spec.values()))


@pytest.mark.parametrize(("instrument", "spec"), ITEMS, ids=item_id)
def test_scoring_accepts_every_allowed_value_and_refuses_the_rest(
    instrument: str, spec: ItemSpec
) -> None:
    for value in spec.values():
        score(instrument, answers_with(instrument, spec.key, value))
    if spec.optional:
        score(instrument, answers_with(instrument, spec.key, None))
    else:
        refused(instrument, spec.key, None)
    if spec.kind is INTEGER:
        assert spec.minimum is not None and spec.maximum is not None
        refused(instrument, spec.key, spec.minimum - 1)
        refused(instrument, spec.key, spec.maximum + 1)
        if spec.step > 1:
            refused(instrument, spec.key, spec.minimum + spec.step // 2)
        refused(instrument, spec.key, "1")
    elif spec.kind is BOOLEAN:
        refused(instrument, spec.key, 1)
        refused(instrument, spec.key, "yes")
    else:
        refused(instrument, spec.key, "neither")


@pytest.mark.parametrize(("instrument", "spec"), ITEMS, ids=item_id)
def test_every_option_scores_and_labels_an_allowed_value(instrument: str, spec: ItemSpec) -> None:
    values = list(spec.values())
    for value, label in spec.options:
        assert value in values and type(value) is type(values[0]) and label
        score(instrument, answers_with(instrument, spec.key, value))


@pytest.mark.parametrize("instrument", sorted(LABELS))
def test_answer_labels_are_the_published_ones(instrument: str) -> None:
    for spec in template(instrument).items:
        if spec.kind is not INTEGER:
            continue
        labels = {value: normal(label) for value, label in spec.options}
        for value, expected in LABELS[instrument].items():
            assert labels[value] == expected, (spec.key, value)


def test_pgic_rass_moaas_label_every_value() -> None:
    for name in ("pgic", "rass", "moaas"):
        (spec,) = template(name).items
        assert set(spec.labels) == set(spec.values())
        assert score(name, {"score": spec.maximum}).band == spec.labels[spec.maximum]


def test_aldrete_labels_say_what_each_score_means() -> None:
    for spec in template("aldrete").items:
        assert set(spec.labels) == {0, 1, 2}
        assert ALDRETE_TWO_POINTS[spec.key] in spec.labels[2]


def test_padss_labels_say_what_each_score_means() -> None:
    for spec in template("padss").items:
        assert set(spec.labels) == {0, 1, 2}
        assert PADSS_TWO_POINTS[spec.key] in spec.labels[2]


def test_padss_discharge_at_9_not_8() -> None:
    nine = dict.fromkeys(PADSS_TWO_POINTS, 2) | {"pain": 1}
    eight = nine | {"nausea_vomiting": 1}
    assert score("padss", nine).score == 9 and score("padss", nine).met is True
    assert score("padss", eight).score == 8 and score("padss", eight).met is False


def test_lanss_yes_labels_carry_the_published_points() -> None:
    for spec in template("lanss").items:
        assert f"{LANSS_POINTS[spec.key]} points" in spec.labels[True]
        answers = {k: k == spec.key for k in LANSS_POINTS}
        assert score("lanss", answers).score == LANSS_POINTS[spec.key]


def test_budapest_variants_are_the_two_criteria_sets() -> None:
    (variant,) = [s for s in template("budapest").items if s.key == "variant"]
    assert [v for v, _ in variant.options] == ["clinical", "research"]


def test_inconsistent_specs_are_refused_when_built() -> None:
    with pytest.raises(ValueError):
        ItemSpec.integer("x", "", "", 0, 95, step=10)  # 95 is not reached in steps of 10
    with pytest.raises(ValueError):
        ItemSpec.integer("x", "", "", 0, 3, labels={4: "four"})
    with pytest.raises(ValueError):
        ItemSpec.integer("x", "", "", 0, 3, labels={True: "one"})  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        ItemSpec("x", "", "", ItemKind.CHOICE)


def test_to_dict_carries_the_structured_fields() -> None:
    (relief,) = [s for s in template("bpi").items if s.key == "relief_percent"]
    data = relief.to_dict()
    assert (data["kind"], data["minimum"], data["maximum"], data["step"], data["optional"]) == (
        "integer",
        0,
        100,
        10,
        True,
    )


def test_the_side_effect_question_scores_a_yes_as_one_and_names_the_kind():
    from painclinic.clinical.instruments import score

    yes = score("side_effects", {"new_side_effect": True, "kind": "bladder"})
    assert yes.score == 1 and yes.flags == ("new_side_effect",) and "urine" in (yes.band or "")
    unsaid = score("side_effects", {"new_side_effect": True, "kind": None})
    assert unsaid.score == 1 and unsaid.band == "not said which"
    no = score("side_effects", {"new_side_effect": False, "kind": None})
    assert no.score == 0 and no.flags == ()
