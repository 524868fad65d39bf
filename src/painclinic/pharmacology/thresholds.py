"""Concentration bands used for plots and population risk (mg/L = mcg/mL).

Sources (clinical reference sections 3 and 4):

- Ketamine (Zanos 2018, Pharmacol Rev 70:621, Table 1 [S]): analgesia 70–160 ng/mL;
  dissociation 100–250 ng/mL; general anaesthesia 1200–2400 ng/mL.
- Lidocaine (Bauer, Applied Clinical Pharmacokinetics [S]): therapeutic 1.5–5 mcg/mL;
  > 3 mcg/mL some patients have CNS symptoms; above 5 mcg/mL toxicity (muscle twitching,
  seizures; mid band 5–12 mcg/mL [S2]). Analgesia above ~2 mcg/mL (neuropathic-pain study [S]).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Band:
    """A labelled concentration band (mg/L)."""

    label: str
    lower_mg_per_l: float
    upper_mg_per_l: float | None
    kind: str  # "analgesic" | "dissociative" (for lidocaine: the CNS-caution band) | "toxic"
    source: str


BANDS: dict[str, tuple[Band, ...]] = {
    "ketamine": (
        Band("analgesia 70–160 ng/mL", 0.07, 0.16, "analgesic", "Zanos 2018 Table 1 [S]"),
        Band("dissociation 100–250 ng/mL", 0.10, 0.25, "dissociative", "Zanos 2018 Table 1 [S]"),
        Band("anaesthesia 1200–2400 ng/mL", 1.2, 2.4, "toxic", "Zanos 2018 Table 1 [S]"),
    ),
    "lidocaine": (
        Band("therapeutic 1.5–5 mcg/mL", 1.5, 5.0, "analgesic", "Bauer [S]"),
        Band("CNS symptoms possible > 3 mcg/mL", 3.0, 5.0, "dissociative", "Bauer [S]"),
        Band("toxic > 5 mcg/mL", 5.0, 12.0, "toxic", "Bauer [S]; 5–12 band [S2]"),
    ),
}

#: Default thresholds for population risk (mg/L): lidocaine toxicity 5 mcg/mL [S];
#: ketamine dissociative range from 0.1 mg/L [S].
DEFAULT_THRESHOLD_MG_PER_L = {"lidocaine": 5.0, "ketamine": 0.1}
