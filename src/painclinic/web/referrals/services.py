"""Referral state changes: each in one transaction with its audit event.

A referral arrives through a public form as the system user (``do_submit_referral``; a refused
POST is counted by ``do_note_attempt`` for the rate limit). The front desk or a physician then
triages it: accept and register the patient (``do_accept_referral``, through the registry's own
``do_register_patient``), link it to a patient already registered (``do_link_referral``),
decline it with a reason, or mark it a duplicate. Nothing is deleted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, replace
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac

from painclinic.web.audit.services import Action, Category, Outcome, audit
from painclinic.web.lib.service import Actor, Refused, note_subject, service
from painclinic.web.patients.models import ExternalPhysician, Patient
from painclinic.web.patients.services import Demographics, do_register_patient
from painclinic.web.referrals import letters
from painclinic.web.referrals.forms import ReferralEntry
from painclinic.web.referrals.letters import Letter
from painclinic.web.referrals.models import (
    AttemptOutcome,
    Kind,
    Referral,
    Status,
    SubmissionAttempt,
)
from painclinic.web.referrals.roles import ROLES

# Referral events are about a person's demographics and contact details.
CATEGORY = Category.DEMOGRAPHICS


class AlreadyTriaged(Refused):
    """Someone triaged this referral first: nothing was changed."""


def hash_address(address: str | None) -> str:
    """The sender's address as an HMAC under the site's secret (never stored in the clear)."""
    if not address:
        return ""
    return salted_hmac("painclinic.referrals.client", address, algorithm="sha256").hexdigest()


def rate_limits() -> tuple[int, int]:
    """(submissions, tries) allowed per hour per form and address."""
    submissions = int(getattr(settings, "REFERRAL_RATE_PER_HOUR", 5))
    tries = int(getattr(settings, "REFERRAL_TRIES_PER_HOUR", 30))
    return submissions, tries


def over_rate_limit(kind: str, address_hash: str, *, now: dt.datetime | None = None) -> bool:
    """Whether this address has sent this form too often in the last hour.

    Submissions (received, or caught by the honeypot) count against the lower limit; every POST,
    refused ones included, against the higher one (a robot trying inputs).
    """
    if not address_hash:
        return False
    since = (now or timezone.now()) - dt.timedelta(hours=1)
    attempts = SubmissionAttempt.objects.filter(
        client_ip_hash=address_hash, kind=kind, at__gte=since
    )
    submissions, tries = rate_limits()
    outcomes = list(attempts.values_list("outcome", flat=True)[: tries + 1])
    sent = sum(1 for outcome in outcomes if outcome != AttemptOutcome.INVALID)
    return sent >= submissions or len(outcomes) >= tries


@service(ROLES.note_attempt, category=CATEGORY, action=Action.CREATE)
def do_note_attempt(actor: Actor, kind: str, outcome: str) -> SubmissionAttempt:
    """Count a POST of a public form that stored nothing (bad input, or the honeypot)."""
    if kind not in Kind.values or outcome not in AttemptOutcome.values:
        raise Refused("unknown form or outcome")
    with transaction.atomic():
        attempt = SubmissionAttempt.objects.create(
            kind=kind,
            client_ip_hash=hash_address(actor.client_ip),
            outcome=outcome,
            at=timezone.now(),
        )
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            outcome=Outcome.DENIED if outcome == AttemptOutcome.TRAP else Outcome.FAILED,
            obj=attempt,
            detail={"form": kind, "refused": outcome},
        )
    return attempt


@service(ROLES.submit_referral, category=CATEGORY, action=Action.CREATE)
def do_submit_referral(
    actor: Actor, entry: ReferralEntry, letter: Letter | None = None
) -> Referral:
    """Store a referral from a public form (and its letter), counted for the rate limit."""
    if entry.kind == Kind.PHYSICIAN and letter is None:
        raise Refused("Attach the referral letter as a PDF file.", "letter")
    if letter is not None:
        problem = letters.letter_problem(letter.content[:5], letter.size_bytes)
        if problem:
            raise Refused(problem, "letter")
    address_hash = hash_address(actor.client_ip)
    now = timezone.now()
    stored = letters.store(letter) if letter is not None else ""
    try:
        with transaction.atomic():
            referral = Referral.objects.create(
                **asdict(entry),
                letter_file=stored,
                letter_original_name=letter.original_name if letter else "",
                letter_size_bytes=letter.size_bytes if letter else 0,
                letter_sha256=letter.sha256 if letter else "",
                submitted_at=now,
                client_ip_hash=address_hash,
            )
            SubmissionAttempt.objects.create(
                kind=entry.kind,
                client_ip_hash=address_hash,
                outcome=AttemptOutcome.RECEIVED,
                at=now,
            )
            note_subject(obj=referral)
            audit(
                actor,
                category=CATEGORY,
                action=Action.CREATE,
                obj=referral,
                detail={
                    "form": entry.kind,
                    "letter_sha256": referral.letter_sha256,
                    "letter_size_bytes": referral.letter_size_bytes,
                },
            )
    except BaseException:
        if stored:
            letters.discard(stored)
        raise
    return referral


# --- triage --------------------------------------------------------------------------------


def possible_duplicates(
    health_card_number: str, given_name: str, family_name: str, date_of_birth: dt.date
) -> list[Patient]:
    """Registered patients with this health card, or this name and date of birth (at most 10)."""
    match = Q(
        legal_given_name__iexact=given_name,
        legal_family_name__iexact=family_name,
        date_of_birth=date_of_birth,
    )
    if health_card_number:
        match |= Q(health_card_number=health_card_number)
    return list(Patient.objects.filter(match).order_by("id")[:10])


def _open_for_triage(referral_id: int) -> Referral:
    referral = Referral.objects.select_for_update().filter(pk=referral_id).first()
    if referral is None:
        raise Refused("This referral does not exist.")
    note_subject(obj=referral)
    if referral.status != Status.NEW:
        raise AlreadyTriaged(
            f"This referral was already triaged ({referral.get_status_display().lower()}); "
            "nothing was changed."
        )
    return referral


def _close(actor: Actor, referral: Referral, status: str, reason: str, patient: Any) -> None:
    referral.status = status
    referral.decision_reason = reason
    referral.triaged_by = actor.user
    referral.triaged_at = timezone.now()
    referral.patient = patient
    referral.save(
        update_fields=["status", "decision_reason", "triaged_by", "triaged_at", "patient"]
    )
    audit(
        actor,
        category=CATEGORY,
        action=Action.UPDATE,
        patient=patient,
        obj=referral,
        detail={"status": status, "reason": reason},
    )


def _referring_physician(referral: Referral) -> ExternalPhysician | None:
    """The referring physician's registry entry, found by billing number or added."""
    if referral.kind != Kind.PHYSICIAN or not referral.referrer_billing_number:
        return None
    physician = (
        ExternalPhysician.objects.filter(ohip_billing_number=referral.referrer_billing_number)
        .order_by("id")
        .first()
    )
    if physician is None:
        physician = ExternalPhysician.objects.create(
            name=referral.referrer_name[:200],
            ohip_billing_number=referral.referrer_billing_number,
            cpso_number=referral.referrer_cpso_number,
            phone=referral.referrer_phone,
            fax=referral.referrer_fax,
        )
    return physician


@service(ROLES.accept_referral, category=CATEGORY, action=Action.UPDATE)
def do_accept_referral(
    actor: Actor,
    referral_id: int,
    demographics: Demographics,
    *,
    confirmed_different_person: bool = False,
) -> Patient:
    """Register the referred patient (with the front desk's corrections) and accept."""
    with transaction.atomic():
        referral = _open_for_triage(referral_id)
        same = possible_duplicates(
            demographics.health_card_number,
            demographics.legal_given_name,
            demographics.legal_family_name,
            demographics.date_of_birth,
        )
        card = demographics.health_card_number
        if card and any(p.health_card_number == card for p in same):
            raise Refused(
                "A patient with this health card number is already registered: "
                "link the referral to that patient instead.",
                "health_card_number",
            )
        if same and not confirmed_different_person:
            raise Refused(
                "A patient with this name and date of birth is already registered: link the "
                "referral to that patient, or tick the box if this is a different person.",
                "confirm_different_person",
            )
        physician = _referring_physician(referral)
        if physician is not None and demographics.referring_physician is None:
            demographics = replace(demographics, referring_physician=physician)
        patient = do_register_patient(actor, demographics)
        _close(actor, referral, Status.ACCEPTED, "", patient)
    return patient


@service(ROLES.link_referral, category=CATEGORY, action=Action.UPDATE)
def do_link_referral(actor: Actor, referral_id: int, patient_id: int) -> Referral:
    """Accept the referral for a patient already registered (no second record)."""
    with transaction.atomic():
        referral = _open_for_triage(referral_id)
        patient = Patient.objects.filter(pk=patient_id).first()
        if patient is None:
            raise Refused("That patient does not exist.", "patient_id")
        note_subject(patient=patient)
        _close(actor, referral, Status.ACCEPTED, "linked to a patient already registered", patient)
    return referral


@service(ROLES.decline_referral, category=CATEGORY, action=Action.UPDATE)
def do_decline_referral(actor: Actor, referral_id: int, reason: str) -> Referral:
    reason = (reason or "").strip()
    with transaction.atomic():
        referral = _open_for_triage(referral_id)
        if not reason:
            raise Refused("Say why the referral is declined.", "reason")
        _close(actor, referral, Status.DECLINED, reason, None)
    return referral


@service(ROLES.mark_duplicate, category=CATEGORY, action=Action.UPDATE)
def do_mark_duplicate(actor: Actor, referral_id: int, reason: str = "") -> Referral:
    with transaction.atomic():
        referral = _open_for_triage(referral_id)
        _close(actor, referral, Status.DUPLICATE, (reason or "").strip(), None)
    return referral


# --- reads ---------------------------------------------------------------------------------

QUEUE_LIMIT = 200


def waiting_referrals() -> list[Referral]:
    """New referrals, oldest first (bounded: the page says when there are more)."""
    return list(
        Referral.objects.filter(status=Status.NEW)
        .order_by("submitted_at", "id")
        .only(
            "id",
            "kind",
            "status",
            "given_name",
            "family_name",
            "date_of_birth",
            "condition",
            "urgency",
            "referrer_name",
            "submitted_at",
            "letter_file",
        )[: QUEUE_LIMIT + 1]
    )


def recently_triaged(limit: int = 20) -> list[Referral]:
    return list(
        Referral.objects.exclude(status=Status.NEW)
        .select_related("triaged_by")
        .order_by("-triaged_at", "-id")[:limit]
    )
