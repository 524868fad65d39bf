"""Every rule, protocol, instrument and condition cites a known source, and docs list them."""

from __future__ import annotations

from pathlib import Path

import pytest

from painclinic.clinical.conditions import load_conditions
from painclinic.clinical.eligibility import load_eligibility_policy
from painclinic.clinical.instruments import INSTRUMENTS, template
from painclinic.clinical.monitoring import load_thresholds
from painclinic.clinical.policy import POLICY_FILES, load_policy
from painclinic.clinical.protocols import load_protocols
from painclinic.clinical.sources import SOURCES, Evidence

DOCS = Path(__file__).resolve().parents[2] / "docs" / "clinical-rules.md"


def all_rule_ids() -> list[str]:
    policy = load_eligibility_policy()
    thresholds = load_thresholds()
    return [
        *policy.rules,
        *(ix.id for ix in policy.interactions),
        *(r.id for r in thresholds.threshold_rules),
        *(r.id for r in thresholds.symptom_rules),
        *(r.id for r in thresholds.baseline_rules),
        *(f"OUT-REC-{i:03d}" for i in range(1, 12)),
    ]


def test_rule_ids_unique_and_stable_format() -> None:
    ids = all_rule_ids()
    assert len(ids) == len(set(ids))
    for rule_id in ids:
        prefix, kind, number = rule_id.rsplit("-", 2)[0], *rule_id.rsplit("-", 2)[1:]
        assert prefix in {"KET", "LID", "MON", "OUT"} and kind.isupper() and number.isdigit()


def test_every_eligibility_and_monitoring_rule_cites_known_sources() -> None:
    policy = load_eligibility_policy()
    thresholds = load_thresholds()
    for rule in (*policy.rules.values(), *policy.interactions, *thresholds.threshold_rules,
                 *thresholds.symptom_rules, *thresholds.baseline_rules):  # fmt: skip
        assert rule.sources and all(s in SOURCES for s in rule.sources), rule.id


@pytest.mark.parametrize("pid", sorted(load_protocols().protocols))
def test_every_protocol_cites(pid: str) -> None:
    protocol = load_protocols().get(pid)
    assert protocol.sources and all(s in SOURCES for s in protocol.sources)


@pytest.mark.parametrize("name", sorted(INSTRUMENTS))
def test_every_instrument_cites(name: str) -> None:
    assert template(name).sources and all(s in SOURCES for s in template(name).sources)


def test_every_condition_cites_its_evidence_and_first_line() -> None:
    for condition in load_conditions().conditions.values():
        assert condition.ketamine_evidence.sources
        assert condition.first_line and all(o.sources for o in condition.first_line)
        for code in (condition.snomed_ct, condition.icd10ca):
            assert code.code is None or code.sources
            assert code.code is not None or code.note  # unknown codes say why


def test_first_line_differs_by_condition() -> None:
    conditions = load_conditions().conditions
    ids = {cid: {o.id for o in c.first_line} for cid, c in conditions.items()}
    assert ids["phn"] == {"gabapentinoid", "snri", "tca"}
    assert ids["fibromyalgia"] != ids["phn"] != ids["crps_1"]


def test_crps_evidence_moderate_others_weak() -> None:
    conditions = load_conditions().conditions
    assert conditions["crps_1"].ketamine_evidence.grade == "moderate"
    assert conditions["phn"].ketamine_evidence.grade == "weak"
    assert conditions["fibromyalgia"].ketamine_evidence.grade == "weak"


def test_policy_sources_without_a_published_source_are_labelled() -> None:
    assert SOURCES["clinic_policy"].evidence == Evidence.POLICY
    assert "no published source" in SOURCES["clinic_policy"].note


@pytest.mark.parametrize("name", POLICY_FILES)
def test_every_policy_file_is_versioned(name: str) -> None:
    assert load_policy(name)["version"]


def test_docs_list_every_rule_protocol_instrument_and_source() -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = [i for i in all_rule_ids() if i not in text]
    missing += [p for p in load_protocols().protocols if f"`{p}`" not in text]
    missing += [n for n in INSTRUMENTS if f"`{n}`" not in text]
    missing += [k for k in SOURCES if f"`{k}`" not in text]
    assert missing == []
