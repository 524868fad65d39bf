"""Every read of a referral goes through here: role check, then the read audit."""

from __future__ import annotations

from painclinic.web.audit.services import Action, Category, audit
from painclinic.web.lib.service import Actor
from painclinic.web.patients.access import deny
from painclinic.web.referrals.models import Referral
from painclinic.web.referrals.roles import ROLES


def get_referral_for(actor: Actor, referral_id: int, *, what: str = "referral") -> Referral:
    """The referral if ``actor`` may triage referrals, audited; otherwise an audited 404."""
    referral = None
    if actor.role in ROLES.view_referrals:
        referral = (
            Referral.objects.select_related("triaged_by", "patient").filter(pk=referral_id).first()
        )
    if referral is None:
        raise deny(actor, "referral", referral_id, category=Category.DEMOGRAPHICS)
    audit(
        actor,
        category=Category.DEMOGRAPHICS,
        action=Action.VIEW,
        patient=referral.patient,
        obj=referral,
        detail={"read": what},
    )
    return referral
