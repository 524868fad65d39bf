"""How many sessions of a plan the patient's treatment consent (and its estimate) covers.

A plan may be saved with more sessions than the consent in force; the sessions beyond it are
not booked until a new consent, with its estimate for the longer series, covers them
(scheduling.services refuses them; the plan and booking pages say so).
"""

from __future__ import annotations

from dataclasses import dataclass

from painclinic.web.patients.models import Patient
from painclinic.web.treatments.models import TreatmentConsent, TreatmentPlan
from painclinic.web.treatments.services import current_treatment_consent, dollars


@dataclass(frozen=True)
class ConsentCoverage:
    """How many of a plan's sessions the patient's consent in force covers.

    "Covers" is decided by :func:`current_treatment_consent`: the latest granted consent (by
    signing time) for the plan's drug and protocol that has not been withdrawn. Its
    ``sessions`` (and the estimate the patient signed for them) bound which planned sessions
    may be booked: session *k* is covered when *k* <= that count. A withdrawn consent covers
    nothing; a newer consent replaces the older one, whether it covers more or fewer sessions.
    It is the consent in force now, not the one the plan was checked against when saved
    (``TreatmentPlan.consent``), so recording a new consent for more sessions lets the rest of
    a saved plan be booked without a new plan. (If the newest consent is withdrawn, an older
    one that was not withdrawn is in force again; but a withdrawal cancels every active plan
    for that drug and protocol, so nothing of those plans can be booked.)
    """

    consent: TreatmentConsent | None
    planned: int

    @property
    def covered(self) -> int:
        return self.consent.sessions if self.consent is not None else 0

    @property
    def short(self) -> bool:
        """Does the plan have sessions the consent does not cover?"""
        return self.planned > self.covered

    @property
    def first_uncovered(self) -> int:
        return self.covered + 1

    def covers(self, number: int) -> bool:
        return 1 <= number <= self.covered

    def refusal(self, number: int) -> str:
        """Why planned session ``number`` cannot be booked (it is not covered)."""
        if self.consent is None:
            return (
                f"Session {number} is not covered by a treatment consent: no signed consent "
                "for this protocol is in force; record a new consent with its estimate first."
            )
        return (
            f"Session {number} is beyond the {self.covered} session"
            f"{'' if self.covered == 1 else 's'} the patient consented to; record a new "
            "consent with its estimate first."
        )

    @property
    def uncovered_label(self) -> str:
        """ "Sessions 6–10" or "Session 10": the planned sessions the consent does not cover."""
        first, last = max(self.first_uncovered, 1), self.planned
        return f"Session {last}" if first == last else f"Sessions {first}–{last}"

    @property
    def message(self) -> str:
        """What the plan page says when the plan is longer than the consent ("" if not)."""
        if not self.short:
            return ""
        need = "needs" if self.first_uncovered >= self.planned else "need"
        if self.consent is None:
            return (
                f"No signed treatment consent for this protocol is in force. "
                f"{self.uncovered_label} {need} an estimate and consent before "
                f"{'it' if need == 'needs' else 'they'} can be booked."
            )
        return (
            f"The signed consent covers {self.covered} session"
            f"{'' if self.covered == 1 else 's'} (estimate "
            f"{dollars(self.consent.estimate_total_cents)}). {self.uncovered_label} {need} a "
            f"new estimate and consent before {'it' if need == 'needs' else 'they'} can be "
            "booked."
        )


def consent_coverage(
    patient: Patient, drug: str, protocol_id: str, planned: int
) -> ConsentCoverage:
    """How much of a ``planned``-session series the consent in force covers."""
    return ConsentCoverage(current_treatment_consent(patient, drug, protocol_id), planned)


def plan_consent_coverage(plan: TreatmentPlan) -> ConsentCoverage:
    """How many of ``plan``'s sessions the consent in force covers (see ConsentCoverage)."""
    return consent_coverage(plan.patient, plan.drug, plan.protocol_id, plan.sessions.count())
