"""Missing information that blocks a patient's first infusion of a drug.

The eligibility decision turns the engine's missing information into ``ChecklistItem`` rows
(one per rule, per drug: the rule ids are drug-specific). The rule text says "resolve each
before the first infusion", so the pre-infusion checklist and the start refuse while such an
item is open and this would be the patient's first infusion of that drug. A later infusion of
the same drug is not blocked: the open items are then shown as a warning only (the patient has
already been infused with this drug once, so the information is a follow-up, not a gate).
"""

from __future__ import annotations

from django.urls import reverse

from painclinic.web.assessments.models import ChecklistItem
from painclinic.web.infusions.models import InfusionSession, RateSegment


def is_first_infusion(session: InfusionSession) -> bool:
    """No other session of this patient with this drug has ever been started."""
    return not (
        RateSegment.objects.filter(
            session__patient_id=session.patient_id, session__plan__drug=session.plan.drug
        )
        .exclude(session_id=session.pk)
        .exists()
    )


def open_items(session: InfusionSession) -> list[ChecklistItem]:
    """Open missing-information items of the session's patient for the session's drug."""
    return list(
        ChecklistItem.objects.filter(
            patient_id=session.patient_id, drug=session.plan.drug, resolved_at__isnull=True
        ).order_by("created_at", "id")
    )


def resolve_url(item: ChecklistItem) -> str:
    return reverse(
        "assessments:resolve_item", kwargs={"patient_id": item.patient_id, "item_id": item.pk}
    )


def blocking_message(items: list[ChecklistItem], doing: str) -> str:
    listed = "; ".join(f"{item.rule_id}: {item.text}" for item in items)
    count = len(items)
    return (
        f"Cannot {doing}: this is the patient's first infusion of this drug and "
        f"{count} missing-information item{'s are' if count > 1 else ' is'} still open "
        f"({listed}). A physician or nurse resolves each with a note on the patient's "
        "assessment page first."
    )


class Readiness:
    """What the chart and the checklist show: the open items and whether they block."""

    def __init__(self, session: InfusionSession) -> None:
        self.items = open_items(session)
        self.first_infusion = bool(self.items) and is_first_infusion(session)
        self.links = [(item, resolve_url(item)) for item in self.items]

    @property
    def blocks(self) -> bool:
        return self.first_infusion and bool(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)
