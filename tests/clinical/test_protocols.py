"""Protocol library: data validity, citations, and dose plans checked by hand arithmetic.

Plans go through ``painclinic.pharmacology.calculate_infusion``. Each dose test runs twice:
against a stand-in that implements the agreed order interface (so the planning logic is
tested today) and against the real calculator, which is skipped while it does not exist.
"""

from __future__ import annotations

from typing import Any

import pytest

from painclinic.clinical import ClinicalInputError
from painclinic.clinical.protocols import (
    default_calculator,
    load_protocols,
    plan,
    prior_24h_mg,
)

LIBRARY = load_protocols()


def stand_in_calculator(order: dict[str, Any]) -> dict[str, Any]:
    """The agreed interface, minimal semantics: caps applied, pump rate rounded."""
    weight = order["patient"]["weight_kg"]
    value, unit = order["dose"]["value"], order["dose"]["unit"]
    hours = order["duration_min"] / 60
    if unit in ("mg/kg/h", "mg/h", "mcg/kg/min"):
        rate = {"mg/kg/h": value * weight, "mg/h": value, "mcg/kg/min": value * weight * 0.06}[unit]
        if order["max_rate_mg_per_h"] is not None:
            rate = min(rate, order["max_rate_mg_per_h"])
        total = rate * hours
        if order["max_total_mg"] is not None and total > order["max_total_mg"]:
            total = order["max_total_mg"]
            rate = total / hours
    else:
        total = value * weight if unit == "mg/kg" else value
        if order["max_total_mg"] is not None:
            total = min(total, order["max_total_mg"])
        rate = total / hours
    conc = order["bag"]["concentration_mg_per_ml"]
    step = order["pump_precision_ml_per_h"]
    rate_ml = round(rate / conc / step) * step
    return {
        "rate_mg_per_h": rate,
        "rate_ml_per_h": rate_ml,
        "total_mg": total,
        "volume_ml": total / conc,
        "duration_h": hours,
        "status": "within",
        "limit_checks": [],
        "display": "",
        "warnings": [],
    }


def _real() -> Any:
    return default_calculator()


@pytest.fixture(params=["stand_in", "real"])
def calculator(request: pytest.FixtureRequest) -> Any:
    return stand_in_calculator if request.param == "stand_in" else _real()


# --- library data ---------------------------------------------------------------------------


REQUIRED = {
    "ket-crps-outpatient",
    "ket-single-session-trial",
    "ket-continuous-titration",
    "lid-5mgkg-60min",
    "lid-1.5mgkg-ibw",
}


def test_library_has_the_required_protocols() -> None:
    assert set(LIBRARY.protocols) >= REQUIRED
    assert LIBRARY.version


@pytest.mark.parametrize("pid", sorted(LIBRARY.protocols))
def test_every_protocol_carries_citations_and_clinical_content(pid: str) -> None:
    protocol = LIBRARY.get(pid)
    assert protocol.sources
    shown = protocol.to_dict()
    assert shown["discharge_criteria"] and all(c["sources"] for c in shown["discharge_criteria"])
    assert shown["observation_cadence"]["sources"]
    assert all(p["sources"] for p in shown["premedication"] + shown["rescue_medication"])
    assert shown["schedule"]["sources"] and shown["bag"]["sources"]


def test_crps_protocol_numbers() -> None:
    p = LIBRARY.get("ket-crps-outpatient")
    (step,) = p.steps
    assert (step.dose_value, step.dose_unit, step.max_rate_mg_per_h) == (0.35, "mg/kg/h", 25)
    assert step.duration_min == 240 and p.allowed_sessions == (5, 10)


def test_observation_cadence_rcht() -> None:
    times = LIBRARY.get("ket-crps-outpatient").cadence.times(240)
    assert times == (0, 15, 30, 45, 60, 90, 120, 150, 180, 240)


def test_unknown_protocol() -> None:
    with pytest.raises(ClinicalInputError) as exc:
        LIBRARY.get("nope")
    assert exc.value.field == "protocol_id"


# --- plans, checked against hand arithmetic -------------------------------------------------


def test_crps_80kg_capped_at_25_mg_per_h(calculator: Any) -> None:
    result = plan("ket-crps-outpatient", {"weight_kg": 80}, calculator=calculator)
    assert len(result.sessions) == 10
    assert [s.day for s in result.sessions] == list(range(10))
    step = result.sessions[0].steps[0]
    # 0.35 mg/kg/h x 80 kg = 28 mg/h, capped to 25 mg/h; 4 h -> 100 mg
    assert step.rate_mg_per_h == pytest.approx(25, abs=0.1)
    assert step.total_mg == pytest.approx(100, abs=0.5)
    assert not result.blocked


def test_crps_60kg_below_cap(calculator: Any) -> None:
    result = plan("ket-crps-outpatient", {"weight_kg": 60}, sessions=5, calculator=calculator)
    assert len(result.sessions) == 5
    step = result.sessions[0].steps[0]
    assert step.rate_mg_per_h == pytest.approx(21, abs=0.1)  # 0.35 x 60
    assert step.total_mg == pytest.approx(84, abs=0.5)
    # daily 4-h sessions: yesterday's session has left the rolling 24-h window by the time
    # today's ends, so no rolling 24 h ever holds more than one session (84 mg)
    assert result.sessions[1].steps[0].order["prior_24h_mg"] == 0
    assert result.sessions[0].steps[0].order["prior_24h_mg"] == 0


def test_prior_24h_counts_back_to_back_steps() -> None:
    result = plan("ket-continuous-titration", {"weight_kg": 70}, calculator=stand_in_calculator)
    priors = [s.order["prior_24h_mg"] for s in result.sessions[0].steps]
    # 10 mg, then 10 + 20, then 10 + 20 + 30 delivered before each step, then 4-h parts
    assert priors[:5] == pytest.approx([0, 10, 30, 60, 220], abs=0.01)
    assert priors[-1] == pytest.approx(960 - 40, abs=0.01)


def test_prior_24h_rolling_window_arithmetic() -> None:
    # 100 mg over 0-240 min; a new 4-h step at 25 mg/h starting 12 h later
    assert prior_24h_mg([(0, 240, 100)], 720, 240, 25) == pytest.approx(100)
    # starting 24 h later: yesterday's dose has left the window by the step's end
    assert prior_24h_mg([(0, 240, 100)], 1440, 240, 25) == pytest.approx(0)
    # starting 22 h later: 2 h of yesterday's dose (50 mg) share a window with today's dose
    assert prior_24h_mg([(0, 240, 100)], 1320, 240, 25) == pytest.approx(50)


def test_crps_session_count_must_be_allowed() -> None:
    with pytest.raises(ClinicalInputError) as exc:
        plan("ket-crps-outpatient", {"weight_kg": 60}, sessions=7, calculator=stand_in_calculator)
    assert exc.value.field == "sessions"


def test_single_session_trial_80mg_over_more_than_2h(calculator: Any) -> None:
    result = plan("ket-single-session-trial", {"weight_kg": 70}, calculator=calculator)
    (session,) = result.sessions
    (step,) = session.steps
    assert step.total_mg == pytest.approx(80, abs=0.5)
    assert step.duration_min > 120
    assert step.rate_mg_per_h == pytest.approx(80 / 4, abs=0.1)


def test_continuous_titration_10_to_40(calculator: Any) -> None:
    result = plan("ket-continuous-titration", {"weight_kg": 70}, calculator=calculator)
    steps = result.sessions[0].steps
    rates = [s.rate_mg_per_h for s in steps]
    assert rates[:3] == pytest.approx([10, 20, 30], abs=0.1)
    assert rates[3:] == pytest.approx([40] * (len(steps) - 3), abs=0.1)
    # 5 days = 7200 min; the 7020-min maintenance is ordered in 4-h parts (29 x 240 + 60)
    assert sum(s.duration_min for s in steps) == 5 * 24 * 60
    assert max(s.duration_min for s in steps) <= 240 and len(steps) == 3 + 30
    assert result.sessions[0].total_mg == pytest.approx(60 + 40 * 117, abs=1)
    assert result.sessions[0].observation_times_min is None
    # a full day at 40 mg/h is 960 mg: the rolling 24 h never exceeds it
    for step in steps:
        assert step.order["prior_24h_mg"] + step.total_mg <= 960 + 0.01
    assert not result.blocked


def test_lidocaine_5mgkg_110kg_capped_at_500mg(calculator: Any) -> None:
    result = plan("lid-5mgkg-60min", {"weight_kg": 110}, calculator=calculator)
    step = result.sessions[0].steps[0]
    # 5 mg/kg x 110 kg = 550 mg, capped to 500 mg over 60 min
    assert step.total_mg == pytest.approx(500, abs=0.5)
    assert step.rate_mg_per_h == pytest.approx(500, abs=0.5)


def test_lidocaine_5mgkg_70kg(calculator: Any) -> None:
    step = plan("lid-5mgkg-60min", {"weight_kg": 70}, calculator=calculator).sessions[0].steps[0]
    assert step.total_mg == pytest.approx(350, abs=0.5)
    assert step.rate_ml_per_h == pytest.approx(350 / 4, abs=0.1)  # 4 mg/mL bag


def test_lidocaine_ibw_variant(calculator: Any) -> None:
    patient = {"weight_kg": 90, "height_cm": 170, "sex": "female"}
    result = plan("lid-1.5mgkg-ibw", patient, calculator=calculator)
    assert result.dosing_weight_kg == 65  # 170 - 105
    load, infusion = result.sessions[0].steps
    assert load.total_mg == pytest.approx(97.5, abs=0.5)  # 1.5 x 65 over 10 min
    assert infusion.rate_mg_per_h == pytest.approx(97.5, abs=0.5)  # 1.5 x 65 per h, < 120
    assert "foo2021" in result.sources


def test_lidocaine_ibw_rate_cap_120(calculator: Any) -> None:
    patient = {"weight_kg": 120, "height_cm": 195, "sex": "male"}
    _, infusion = plan("lid-1.5mgkg-ibw", patient, calculator=calculator).sessions[0].steps
    assert infusion.rate_mg_per_h == pytest.approx(120, abs=0.5)  # 1.5 x 95 = 142.5 -> 120


def test_ibw_needs_height_and_sex() -> None:
    with pytest.raises(ClinicalInputError) as exc:
        plan("lid-1.5mgkg-ibw", {"weight_kg": 70}, calculator=stand_in_calculator)
    assert exc.value.field == "height_cm"
    with pytest.raises(ClinicalInputError) as exc:
        plan("lid-1.5mgkg-ibw", {"weight_kg": 70, "height_cm": 170}, calculator=stand_in_calculator)
    assert exc.value.field == "sex"


def test_ibw_protocol_minimum_weight() -> None:
    patient = {"weight_kg": 39, "height_cm": 150, "sex": "female"}
    with pytest.raises(ClinicalInputError) as exc:
        plan("lid-1.5mgkg-ibw", patient, calculator=stand_in_calculator)
    assert exc.value.field == "weight_kg"


def test_bad_patient_named() -> None:
    with pytest.raises(ClinicalInputError) as exc:
        plan("ket-crps-outpatient", {"weight_kg": 70, "age": 3}, calculator=stand_in_calculator)
    assert exc.value.field == "patient.age"


def test_disagreeing_calculator_blocks_the_plan() -> None:
    def tenfold(order: dict[str, Any]) -> dict[str, Any]:
        result = stand_in_calculator(order)
        result["rate_mg_per_h"] *= 10
        return result

    result = plan("ket-crps-outpatient", {"weight_kg": 80}, calculator=tenfold)
    assert result.blocked and any("blocked" in w for w in result.warnings)


def test_hard_limit_blocks_and_soft_limit_warns() -> None:
    def limited(status: str) -> Any:
        def calc(order: dict[str, Any]) -> dict[str, Any]:
            return {**stand_in_calculator(order), "status": status}

        return calc

    hard = plan("ket-single-session-trial", {"weight_kg": 70}, calculator=limited("hard_limit"))
    assert hard.blocked and hard.status == "hard_limit"
    soft = plan("ket-single-session-trial", {"weight_kg": 70}, calculator=limited("soft_limit"))
    assert not soft.blocked and soft.status == "soft_limit" and soft.warnings


def test_calculator_refusal_becomes_clinical_input_error() -> None:
    def refuse(order: dict[str, Any]) -> dict[str, Any]:
        raise ValueError("weight implausible")

    with pytest.raises(ClinicalInputError) as exc:
        plan("ket-single-session-trial", {"weight_kg": 70}, calculator=refuse)
    assert exc.value.field == "ket-single-session-trial.steps[0]"


def test_bag_concentrations_are_standard_in_the_drug_library() -> None:
    from painclinic.pharmacology import load_drug_library

    drugs = load_drug_library()
    for protocol in LIBRARY.protocols.values():
        standard = drugs.drug(protocol.drug).standard_concentrations_mg_per_ml
        assert protocol.concentration_mg_per_ml in standard, protocol.id
