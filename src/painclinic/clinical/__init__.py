"""Clinical rules core: instruments, criteria, eligibility, protocols, monitoring, outcomes.

Pure Python (no Django). Every rule returns its reasons with a rule id and the source keys
defined in :mod:`painclinic.clinical.sources`. Thresholds a clinic may set are JSON data files
(see :mod:`painclinic.clinical.policy`), overridable with ``PAINCLINIC_CLINICAL_POLICY_DIR``.
"""

from painclinic.clinical.errors import ClinicalInputError
from painclinic.clinical.instruments import (
    INSTRUMENTS,
    InstrumentResult,
    InstrumentTemplate,
    get_instrument,
    score,
    template,
)
from painclinic.clinical.sources import SOURCES, Evidence, Source

__all__ = [
    "INSTRUMENTS",
    "SOURCES",
    "ClinicalInputError",
    "Evidence",
    "InstrumentResult",
    "InstrumentTemplate",
    "Source",
    "get_instrument",
    "score",
    "template",
]
