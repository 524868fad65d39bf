"""Clinical rules core: instruments, criteria, eligibility, protocols, monitoring, outcomes.

Pure Python (no Django; enforced by ``tests/clinical/test_purity.py``). Every rule returns
its reasons with a stable rule id and source keys from :mod:`painclinic.clinical.sources`.
Thresholds a clinic may set are versioned JSON data files (:mod:`painclinic.clinical.policy`),
overridable per clinic with ``PAINCLINIC_CLINICAL_POLICY_DIR`` or a ``policy_dir`` argument.
The rules and their sources are listed in ``docs/clinical-rules.md``.
"""

from painclinic.clinical.conditions import Condition, ConditionsCatalogue, load_conditions
from painclinic.clinical.eligibility import (
    DrugEligibility,
    EligibilityResult,
    Status,
    assess_eligibility,
    facts_template,
    load_eligibility_policy,
    parse_facts,
)
from painclinic.clinical.errors import ClinicalInputError
from painclinic.clinical.instruments import (
    INSTRUMENTS,
    InstrumentResult,
    InstrumentTemplate,
    answers_from_items,
    get_instrument,
    score,
    template,
)
from painclinic.clinical.monitoring import (
    Action,
    MonitoringDecision,
    MonitoringThresholds,
    evaluate_observation,
    load_thresholds,
)
from painclinic.clinical.outcomes import (
    ChangeCategory,
    Recommendation,
    ResponderPolicy,
    assess_durability,
    assess_response,
    classify_change,
    load_responder_policy,
    recommend,
)
from painclinic.clinical.policy import POLICY_DIR_ENV, load_policy
from painclinic.clinical.protocols import (
    DosingCalculatorUnavailable,
    Protocol,
    ProtocolLibrary,
    ProtocolPlan,
    load_protocols,
    plan,
)
from painclinic.clinical.sources import SOURCES, Evidence, Source

__all__ = [
    "INSTRUMENTS",
    "POLICY_DIR_ENV",
    "SOURCES",
    "Action",
    "ChangeCategory",
    "ClinicalInputError",
    "Condition",
    "ConditionsCatalogue",
    "DosingCalculatorUnavailable",
    "DrugEligibility",
    "EligibilityResult",
    "Evidence",
    "InstrumentResult",
    "InstrumentTemplate",
    "MonitoringDecision",
    "MonitoringThresholds",
    "Protocol",
    "ProtocolLibrary",
    "ProtocolPlan",
    "Recommendation",
    "ResponderPolicy",
    "Source",
    "Status",
    "answers_from_items",
    "assess_durability",
    "assess_eligibility",
    "assess_response",
    "classify_change",
    "evaluate_observation",
    "facts_template",
    "get_instrument",
    "load_conditions",
    "load_eligibility_policy",
    "load_policy",
    "load_protocols",
    "load_responder_policy",
    "load_thresholds",
    "parse_facts",
    "plan",
    "recommend",
    "score",
    "template",
]
