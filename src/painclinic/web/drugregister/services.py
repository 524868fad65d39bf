"""Register state changes: each in one transaction with its audit event.

Every ``do_*`` is a service (``painclinic.web.lib.service.service``): its roles come from
``drugregister.roles.ROLES``, and a refusal (:class:`DrugRegisterError`, a ``Refused`` naming the
field at fault, so a form can put the message on that field) is audited once, after the
rollback, whoever called. Amounts are ``Decimal`` mg.

Public entry points used by other apps:

* :func:`do_record_draw` — the infusions app calls it from bag preparation;
* :func:`do_record_waste` — the witnessed disposal of the unused part of a draw;
* :func:`verify_witness` — the witness's signature check, for a service that records waste.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from painclinic.pharmacology import format_dose, load_drug_library
from painclinic.web.accounts.models import CLINICAL_ROLES, User
from painclinic.web.audit.services import Action, Category, Outcome, audit
from painclinic.web.drugregister.models import (
    ControlledDrug,
    Discrepancy,
    DiscrepancyResolution,
    EntryKind,
    RegisterEntry,
    StockCount,
)
from painclinic.web.drugregister.roles import ROLES
from painclinic.web.lib.service import Actor, Refused, note_subject, service

CATEGORY = Category.DRUG_REGISTER

WITNESSES = CLINICAL_ROLES
MG = Decimal("0.01")

# Sessions in these states take no more drug out of the safe.
NO_DRAW_STATUSES = frozenset({"signed", "cancelled", "discharged"})
NO_WASTE_STATUSES = frozenset({"signed"})
# Entries that move stock of a particular lot (adjustments are per concentration).
LOT_KINDS = (EntryKind.RECEIPT, EntryKind.DRAW, EntryKind.DESTRUCTION)


class DrugRegisterError(Refused):
    """A refused register entry, nothing saved: ``field`` names the input at fault."""


# --- reference data ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _library_vials() -> dict[str, tuple[Decimal, ...]]:
    library = load_drug_library()
    out = {}
    for drug in ControlledDrug.values:
        entry = library.drug(drug)
        out[drug] = tuple(Decimal(str(c)).quantize(MG) for c in entry.vial_concentrations_mg_per_ml)
    return out


def vial_concentrations(drug: str = ControlledDrug.KETAMINE) -> tuple[Decimal, ...]:
    """The drug library's vial concentrations (mg/mL) for ``drug``: the only ones accepted."""
    return _library_vials()[drug]


def concentration_choices(drug: str = ControlledDrug.KETAMINE) -> list[tuple[str, str]]:
    return [(str(c), format_dose(float(c), "mg/mL")) for c in vial_concentrations(drug)]


def _decimal(value: Any, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        raise DrugRegisterError(f"{value!r} is not a number.", field) from None
    if not number.is_finite():
        raise DrugRegisterError(f"{value!r} is not a number.", field)
    return number


def _concentration(value: Any, drug: str, field: str = "concentration_mg_per_ml") -> Decimal:
    number = _decimal(value, field).quantize(MG, rounding=ROUND_HALF_UP)
    allowed = vial_concentrations(drug)
    if number not in allowed:
        shown = ", ".join(format_dose(float(c), "mg/mL") for c in allowed)
        raise DrugRegisterError(
            f"{value} mg/mL is not a vial concentration in the drug library ({shown}).",
            field,
        )
    return number


def _positive_mg(value: Any, field: str = "amount_mg") -> Decimal:
    number = _decimal(value, field)
    if number <= 0:
        raise DrugRegisterError("The amount must be more than 0 mg.", field)
    if number != number.quantize(MG):
        raise DrugRegisterError("Give the amount to at most two decimal places (mg).", field)
    return number


def _mg(value: Decimal) -> str:
    return format_dose(float(value), "mg")


# --- balances ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    drug: str
    concentration_mg_per_ml: Decimal
    balance_mg: Decimal
    vial_volume_ml: Decimal | None  # of the latest receipt at this concentration

    @property
    def balance_ml(self) -> Decimal:
        return (self.balance_mg / self.concentration_mg_per_ml).quantize(MG)

    @property
    def vials_equivalent(self) -> Decimal | None:
        """Balance expressed in vials of the most recently received size."""
        if not self.vial_volume_ml:
            return None
        per_vial = self.concentration_mg_per_ml * self.vial_volume_ml
        return (self.balance_mg / per_vial).quantize(Decimal("0.1"))

    @property
    def balance_display(self) -> str:
        return _mg(self.balance_mg)

    @property
    def concentration_display(self) -> str:
        return format_dose(float(self.concentration_mg_per_ml), "mg/mL")


def _sum(queryset: Any, field: str = "stock_change_mg") -> Decimal:
    value = queryset.aggregate(total=Sum(field))["total"]
    return Decimal(value or 0)


def balance_mg(concentration_mg_per_ml: Decimal, drug: str = ControlledDrug.KETAMINE) -> Decimal:
    entries = RegisterEntry.objects.filter(
        drug=drug, concentration_mg_per_ml=concentration_mg_per_ml
    )
    return _sum(entries)


def lot_balance_mg(
    lot: str, concentration_mg_per_ml: Decimal, drug: str = ControlledDrug.KETAMINE
) -> Decimal:
    """Received minus drawn for one lot (adjustments are per concentration, not per lot)."""
    entries = RegisterEntry.objects.filter(
        drug=drug,
        concentration_mg_per_ml=concentration_mg_per_ml,
        lot=lot,
        kind__in=LOT_KINDS,
    )
    return _sum(entries)


def balances(drug: str = ControlledDrug.KETAMINE) -> list[Balance]:
    """One row per library vial concentration (two queries whatever the ledger's size)."""
    totals = {
        row["concentration_mg_per_ml"]: row["total"]
        for row in RegisterEntry.objects.filter(drug=drug)
        .values("concentration_mg_per_ml")
        .annotate(total=Sum("stock_change_mg"))
        .order_by()
    }
    volumes: dict[Decimal, Decimal | None] = {}
    for row in (
        RegisterEntry.objects.filter(drug=drug, kind=EntryKind.RECEIPT)
        .order_by("concentration_mg_per_ml", "-recorded_at", "-id")
        .values("concentration_mg_per_ml", "vial_volume_ml")
    ):
        volumes.setdefault(row["concentration_mg_per_ml"], row["vial_volume_ml"])
    return [
        Balance(
            drug=drug,
            concentration_mg_per_ml=conc,
            balance_mg=Decimal(totals.get(conc) or 0),
            vial_volume_ml=volumes.get(conc),
        )
        for conc in vial_concentrations(drug)
    ]


def session_drawn_mg(session: Any, concentration_mg_per_ml: Decimal) -> Decimal:
    return _sum(
        RegisterEntry.objects.filter(
            session=session, kind=EntryKind.DRAW, concentration_mg_per_ml=concentration_mg_per_ml
        ),
        "amount_mg",
    )


def session_wasted_mg(session: Any, concentration_mg_per_ml: Decimal) -> Decimal:
    return _sum(
        RegisterEntry.objects.filter(
            session=session, kind=EntryKind.WASTE, concentration_mg_per_ml=concentration_mg_per_ml
        ),
        "amount_mg",
    )


def open_discrepancies() -> Any:
    return Discrepancy.objects.filter(resolution__isnull=True).select_related(
        "count", "count__counted_by"
    )


# --- receipts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptInput:
    """Vials received into the safe (the attribute names are the receipt form's fields)."""

    concentration_mg_per_ml: Decimal
    vial_volume_ml: Decimal
    vial_count: int
    lot: str
    expiry_date: dt.date
    supplier: str
    reference: str
    drug: str = ControlledDrug.KETAMINE


@service(ROLES.record_receipt, category=CATEGORY, action=Action.CREATE)
def do_record_receipt(actor: Actor, receipt: ReceiptInput) -> RegisterEntry:
    """Vials into the safe: ``vial_count`` vials of ``vial_volume_ml`` at a library vial
    concentration, one lot with one expiry date."""
    user = actor.user
    drug = receipt.drug or ControlledDrug.KETAMINE
    concentration = _concentration(receipt.concentration_mg_per_ml, drug)
    volume = _decimal(receipt.vial_volume_ml, "vial_volume_ml")
    if volume <= 0:
        raise DrugRegisterError("The vial volume must be more than 0 mL.", "vial_volume_ml")
    count = receipt.vial_count
    if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
        raise DrugRegisterError("Give the number of vials received (at least 1).", "vial_count")
    lot = str(receipt.lot or "").strip()
    if not lot:
        raise DrugRegisterError("The lot number is required.", "lot")
    expiry = receipt.expiry_date
    if not isinstance(expiry, dt.date):
        raise DrugRegisterError("The expiry date is required.", "expiry_date")
    if expiry < timezone.localdate():
        raise DrugRegisterError("This lot has already expired; do not stock it.", "expiry_date")
    supplier = str(receipt.supplier or "").strip()
    if not supplier:
        raise DrugRegisterError("The supplier is required.", "supplier")
    reference = str(receipt.reference or "").strip()
    if not reference:
        raise DrugRegisterError("The invoice or order reference is required.", "reference")
    amount = (concentration * volume * count).quantize(MG)
    with transaction.atomic():
        # The same lot must keep one concentration and one expiry date.
        clash = (
            RegisterEntry.objects.filter(kind=EntryKind.RECEIPT, drug=drug, lot=lot)
            .exclude(concentration_mg_per_ml=concentration, expiry_date=expiry)
            .first()
        )
        if clash is not None:
            raise DrugRegisterError(
                f"Lot {lot} was received before as {clash.concentration_mg_per_ml.normalize()} "
                f"mg/mL expiring {clash.expiry_date:%Y-%m-%d}; check the vial label.",
                "lot",
            )
        entry = RegisterEntry.objects.create(
            kind=EntryKind.RECEIPT,
            drug=drug,
            concentration_mg_per_ml=concentration,
            amount_mg=amount,
            stock_change_mg=amount,
            lot=lot,
            expiry_date=expiry,
            vial_volume_ml=volume,
            vial_count=count,
            supplier=supplier,
            reference=reference,
            recorded_by=user,
            recorded_at=timezone.now(),
        )
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            obj=entry,
            detail={
                "kind": entry.kind,
                "drug": drug,
                "concentration_mg_per_ml": str(concentration),
                "vial_volume_ml": str(volume),
                "vial_count": count,
                "amount_mg": str(amount),
                "lot": lot,
                "expiry_date": expiry.isoformat(),
                "supplier": supplier,
                "reference": reference,
            },
        )
    return entry


# --- draws and waste --------------------------------------------------------------------------


def _session_drug(session: Any) -> str:
    drug = str(session.plan.drug)
    if drug not in ControlledDrug.values:
        raise DrugRegisterError(
            f"{drug} is not a controlled drug kept in this register; nothing to record.",
            "session",
        )
    return drug


@service(ROLES.record_draw, category=CATEGORY, action=Action.CREATE)
def do_record_draw(
    actor: Actor,
    session: Any,
    *,
    concentration_mg_per_ml: Decimal,
    amount_mg: Decimal,
    lot: str,
) -> RegisterEntry:
    """Take ``amount_mg`` of the session's drug out of the safe from vial lot ``lot``.

    Refused (DrugRegisterError naming the field) when: the concentration is not a library vial
    concentration; the amount is not positive; the lot was never received at that concentration
    or has expired (clinic-local date); the amount exceeds what the ledger holds for that lot or
    that concentration; the session is signed, discharged or cancelled. Only a nurse records it.
    Called by ``infusions.services.do_prepare_bag`` inside its transaction: a refusal there is
    audited once, by that outer service, after its rollback.
    """
    user = actor.user
    note_subject(patient=session.patient, obj=session)
    drug = _session_drug(session)
    concentration = _concentration(concentration_mg_per_ml, drug)
    amount = _positive_mg(amount_mg)
    lot = str(lot or "").strip()
    if not lot:
        raise DrugRegisterError("The vial lot number is required.", "lot")
    with transaction.atomic():
        from painclinic.web.infusions.models import InfusionSession

        # Lock the session so two draws for it serialise (and see each other's rows).
        locked = (
            InfusionSession.objects.select_for_update().select_related("patient").get(pk=session.pk)
        )
        if locked.status in NO_DRAW_STATUSES:
            raise DrugRegisterError(
                f"This session is {locked.get_status_display().lower()}: no draws.", "session"
            )
        receipt = (
            RegisterEntry.objects.filter(
                kind=EntryKind.RECEIPT, drug=drug, lot=lot, concentration_mg_per_ml=concentration
            )
            .order_by("recorded_at")
            .first()
        )
        if receipt is None:
            raise DrugRegisterError(
                f"No vials of lot {lot} at {format_dose(float(concentration), 'mg/mL')} "
                "were received into the register.",
                "lot",
            )
        today = timezone.localdate()
        if receipt.expiry_date is not None and receipt.expiry_date < today:
            raise DrugRegisterError(
                f"Lot {lot} expired on {receipt.expiry_date:%Y-%m-%d}: do not use it. "
                "Set it aside for destruction.",
                "lot",
            )
        on_hand = balance_mg(concentration, drug)
        in_lot = lot_balance_mg(lot, concentration, drug)
        available = min(on_hand, in_lot)
        if amount > available:
            raise DrugRegisterError(
                f"{_mg(amount)} is more than the register holds "
                f"({_mg(in_lot)} in lot {lot}, {_mg(on_hand)} at "
                f"{format_dose(float(concentration), 'mg/mL')}). Count the safe.",
                "amount_mg",
            )
        entry = RegisterEntry.objects.create(
            kind=EntryKind.DRAW,
            drug=drug,
            concentration_mg_per_ml=concentration,
            amount_mg=amount,
            stock_change_mg=-amount,
            lot=lot,
            session=locked,
            patient=locked.patient,
            recorded_by=user,
            recorded_at=timezone.now(),
        )
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            patient=locked.patient,
            obj=entry,
            detail={
                "kind": entry.kind,
                "session_id": locked.pk,
                "drug": drug,
                "concentration_mg_per_ml": str(concentration),
                "amount_mg": str(amount),
                "lot": lot,
                "balance_after_mg": str(on_hand - amount),
            },
        )
    return entry


WITNESS_MAX_FAILURES = 5
WITNESS_LOCK_MIN = 15


def _witness_failures(witness_id: int) -> int:
    """Wrong witness passwords for this user in the last WITNESS_LOCK_MIN minutes: the refusals
    the services audited (from the register's pages or the infusion chart alike)."""
    from painclinic.web.audit.models import AuditEvent

    since = timezone.now() - dt.timedelta(minutes=WITNESS_LOCK_MIN)
    return (
        AuditEvent.objects.filter(
            outcome=Outcome.DENIED, occurred_at__gte=since, detail__witness_id=witness_id
        )
        # Events written before the service contract said "refused": "witness_password".
        .filter(Q(detail__field="witness_password") | Q(detail__refused="witness_password"))
        .count()
    )


def verify_witness(actor: Actor, witness: Any, witness_password: str, *, what: str) -> User:
    """The second person for a witnessed entry: another clinical user who re-enters their own
    password. A plain check used inside services (not an entry point): a failure raises
    :class:`DrugRegisterError` carrying ``witness_id`` in its detail, and the service that
    called it audits the refusal after its rollback (so a wrong password stays on record and
    counts towards the witness lock-out, whichever page the witness signed on)."""
    user = actor.user
    user_model = get_user_model()
    candidate: Any
    if isinstance(witness, user_model):
        candidate = witness
    else:
        candidate = user_model.objects.filter(pk=witness).first() if witness else None
    problem: tuple[str, str] | None = None
    if candidate is None or not candidate.is_active:
        problem = ("Choose the colleague who witnessed this.", "witness")
    elif candidate.pk == user.pk:
        problem = ("The witness must be a different person from the one recording.", "witness")
    elif getattr(candidate, "role", "") not in WITNESSES:
        problem = ("The witness must be a nurse or a physician.", "witness")
    elif _witness_failures(candidate.pk) >= WITNESS_MAX_FAILURES:
        problem = (
            f"Too many wrong passwords for this witness: wait {WITNESS_LOCK_MIN} minutes.",
            "witness_password",
        )
    elif not witness_password or not candidate.check_password(witness_password):
        problem = ("The witness's password is not correct.", "witness_password")
    if problem is not None:
        message, field = problem
        raise DrugRegisterError(
            message,
            field,
            detail={"witnessed": str(what), "witness_id": getattr(candidate, "pk", None)},
        )
    assert isinstance(candidate, User)
    return candidate


@service(ROLES.record_waste, category=CATEGORY, action=Action.CREATE)
def do_record_waste(
    actor: Actor,
    session: Any,
    *,
    concentration_mg_per_ml: Decimal,
    amount_mg: Decimal,
    witness: User | int | None,
    witness_password: str,
    reason: str,
) -> RegisterEntry:
    """Witnessed disposal of drug drawn for ``session`` and not given.

    ``witness`` is a user (or user id): a nurse or physician other than the recorder, who
    re-enters their own password. The amount cannot exceed what was drawn for the session at
    that concentration less what was already wasted. Waste does not change the stock balance
    (the drug left the safe when it was drawn). Also called by the infusions services (the
    remainder after an infusion, the drug drawn for a cancelled session) inside their
    transactions: a refusal there is audited once, by that outer service.
    """
    user = actor.user
    note_subject(patient=session.patient, obj=session)
    drug = _session_drug(session)
    concentration = _concentration(concentration_mg_per_ml, drug)
    amount = _positive_mg(amount_mg)
    reason = str(reason or "").strip()
    if not reason:
        raise DrugRegisterError("Say why the drug is wasted.", "reason")
    signer = verify_witness(actor, witness, witness_password, what=EntryKind.WASTE)
    with transaction.atomic():
        from painclinic.web.infusions.models import InfusionSession

        locked = (
            InfusionSession.objects.select_for_update().select_related("patient").get(pk=session.pk)
        )
        if locked.status in NO_WASTE_STATUSES:
            raise DrugRegisterError("This session's note is signed: no more entries.", "session")
        drawn = session_drawn_mg(locked, concentration)
        wasted = session_wasted_mg(locked, concentration)
        if amount > drawn - wasted:
            raise DrugRegisterError(
                f"{_mg(amount)} is more than is left of what was drawn for this session at "
                f"{format_dose(float(concentration), 'mg/mL')} "
                f"(drawn {_mg(drawn)}, already wasted {_mg(wasted)}).",
                "amount_mg",
            )
        lots = list(
            RegisterEntry.objects.filter(
                session=locked, kind=EntryKind.DRAW, concentration_mg_per_ml=concentration
            )
            .order_by("-recorded_at")
            .values_list("lot", flat=True)[:1]
        )
        entry = RegisterEntry.objects.create(
            kind=EntryKind.WASTE,
            drug=drug,
            concentration_mg_per_ml=concentration,
            amount_mg=amount,
            stock_change_mg=Decimal("0"),
            lot=lots[0] if lots else "",
            session=locked,
            patient=locked.patient,
            witness=signer,
            reason=reason,
            recorded_by=user,
            recorded_at=timezone.now(),
        )
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            patient=locked.patient,
            obj=entry,
            detail={
                "kind": entry.kind,
                "session_id": locked.pk,
                "drug": drug,
                "concentration_mg_per_ml": str(concentration),
                "amount_mg": str(amount),
                "witness": signer.get_username(),
                "reason": reason,
            },
        )
    return entry


@dataclass(frozen=True)
class LotStock:
    lot: str
    concentration_mg_per_ml: Decimal
    expiry_date: dt.date | None
    balance_mg: Decimal

    @property
    def expired(self) -> bool:
        return self.expiry_date is not None and self.expiry_date < timezone.localdate()


def lots_in_stock(drug: str = ControlledDrug.KETAMINE) -> list[LotStock]:
    """Lots with something left (received minus drawn minus destroyed), soonest expiry first."""
    totals = (
        RegisterEntry.objects.filter(drug=drug, kind__in=LOT_KINDS)
        .values("lot", "concentration_mg_per_ml")
        .annotate(total=Sum("stock_change_mg"))
        .order_by()
    )
    expiries = {
        (row["lot"], row["concentration_mg_per_ml"]): row["expiry_date"]
        for row in RegisterEntry.objects.filter(drug=drug, kind=EntryKind.RECEIPT).values(
            "lot", "concentration_mg_per_ml", "expiry_date"
        )
    }
    stock = [
        LotStock(
            lot=row["lot"],
            concentration_mg_per_ml=row["concentration_mg_per_ml"],
            expiry_date=expiries.get((row["lot"], row["concentration_mg_per_ml"])),
            balance_mg=Decimal(row["total"] or 0),
        )
        for row in totals
        if (row["total"] or 0) > 0
    ]
    return sorted(stock, key=lambda s: (s.expiry_date or dt.date.max, s.lot))


@service(ROLES.record_destruction, category=CATEGORY, action=Action.CREATE)
def do_record_destruction(
    actor: Actor,
    *,
    concentration_mg_per_ml: Decimal,
    lot: str,
    amount_mg: Decimal,
    witness: User | int | None,
    witness_password: str,
    reason: str,
) -> RegisterEntry:
    """Take expired or damaged stock of one lot out of the safe for destruction, witnessed by a
    second clinical user who re-enters their password. Refused beyond what the lot holds."""
    user = actor.user
    drug = ControlledDrug.KETAMINE
    concentration = _concentration(concentration_mg_per_ml, drug)
    amount = _positive_mg(amount_mg)
    lot = str(lot or "").strip().upper()
    if not lot:
        raise DrugRegisterError("The lot number is required.", "lot")
    reason = str(reason or "").strip()
    if not reason:
        raise DrugRegisterError("Say why the stock is destroyed (expired, broken...).", "reason")
    signer = verify_witness(actor, witness, witness_password, what=EntryKind.DESTRUCTION)
    with transaction.atomic():
        if not RegisterEntry.objects.filter(
            kind=EntryKind.RECEIPT, drug=drug, lot=lot, concentration_mg_per_ml=concentration
        ).exists():
            raise DrugRegisterError(
                f"No vials of lot {lot} at {format_dose(float(concentration), 'mg/mL')} "
                "were received into the register.",
                "lot",
            )
        on_hand = balance_mg(concentration, drug)
        in_lot = lot_balance_mg(lot, concentration, drug)
        if amount > min(on_hand, in_lot):
            raise DrugRegisterError(
                f"{_mg(amount)} is more than the register holds ({_mg(in_lot)} in lot {lot}, "
                f"{_mg(on_hand)} at {format_dose(float(concentration), 'mg/mL')}).",
                "amount_mg",
            )
        entry = RegisterEntry.objects.create(
            kind=EntryKind.DESTRUCTION,
            drug=drug,
            concentration_mg_per_ml=concentration,
            amount_mg=amount,
            stock_change_mg=-amount,
            lot=lot,
            witness=signer,
            reason=reason,
            recorded_by=user,
            recorded_at=timezone.now(),
        )
        audit(
            actor,
            category=CATEGORY,
            action=Action.CREATE,
            obj=entry,
            detail={
                "kind": entry.kind,
                "drug": drug,
                "concentration_mg_per_ml": str(concentration),
                "amount_mg": str(amount),
                "lot": lot,
                "witness": signer.get_username(),
                "reason": reason,
                "balance_after_mg": str(on_hand - amount),
            },
        )
    return entry


# --- counts and discrepancies -----------------------------------------------------------------


@dataclass(frozen=True)
class CountInput:
    """A physical count of one vial concentration (the attribute names are the count form's
    fields)."""

    concentration_mg_per_ml: Decimal
    full_vials: int
    vial_volume_ml: Decimal
    open_vial_ml: Decimal = Decimal("0")
    notes: str = ""
    drug: str = ControlledDrug.KETAMINE


@service(ROLES.record_count, category=CATEGORY, action=Action.CREATE)
def do_record_count(actor: Actor, tally: CountInput) -> StockCount:
    """A physical count of one concentration: counted mg = (full_vials x vial_volume_ml +
    open_vial_ml) x concentration. A count that differs from the ledger balance opens a
    Discrepancy; a new count of a concentration with an open discrepancy is refused until a
    physician or clinic admin resolves it (otherwise the same shortfall would be adjusted twice).
    """
    user = actor.user
    drug = tally.drug or ControlledDrug.KETAMINE
    concentration = _concentration(tally.concentration_mg_per_ml, drug)
    full_vials = tally.full_vials
    if not isinstance(full_vials, int) or isinstance(full_vials, bool) or full_vials < 0:
        raise DrugRegisterError("Give the number of unopened vials (0 or more).", "full_vials")
    volume = _decimal(tally.vial_volume_ml, "vial_volume_ml")
    if volume <= 0:
        raise DrugRegisterError("The vial volume must be more than 0 mL.", "vial_volume_ml")
    open_ml = _decimal(tally.open_vial_ml or 0, "open_vial_ml")
    if open_ml < 0:
        raise DrugRegisterError("The volume cannot be negative.", "open_vial_ml")
    counted = ((full_vials * volume + open_ml) * concentration).quantize(MG)
    with transaction.atomic():
        already = (
            open_discrepancies()
            .filter(count__drug=drug, count__concentration_mg_per_ml=concentration)
            .first()
        )
        if already is not None:
            raise DrugRegisterError(
                f"Discrepancy #{already.pk} at {format_dose(float(concentration), 'mg/mL')} is "
                "still open: a physician or clinic admin must resolve it before the next count.",
                "concentration_mg_per_ml",
            )
        computed = balance_mg(concentration, drug)
        now = timezone.now()
        count = StockCount.objects.create(
            drug=drug,
            concentration_mg_per_ml=concentration,
            full_vials=full_vials,
            vial_volume_ml=volume,
            open_vial_ml=open_ml,
            counted_mg=counted,
            computed_mg=computed,
            counted_by=user,
            counted_at=now,
            notes=str(tally.notes or "").strip(),
        )
        detail = {
            "drug": drug,
            "concentration_mg_per_ml": str(concentration),
            "counted_mg": str(counted),
            "computed_mg": str(computed),
        }
        audit(actor, category=CATEGORY, action=Action.CREATE, obj=count, detail=detail)
        if counted != computed:
            discrepancy = Discrepancy.objects.create(
                count=count, difference_mg=counted - computed, opened_at=now
            )
            audit(
                actor,
                category=CATEGORY,
                action=Action.CREATE,
                obj=discrepancy,
                detail={**detail, "difference_mg": str(discrepancy.difference_mg)},
            )
    return count


@service(ROLES.resolve_discrepancy, category=CATEGORY, action=Action.UPDATE)
def do_resolve_discrepancy(
    actor: Actor, discrepancy_id: int, explanation: str
) -> DiscrepancyResolution:
    """A physician or clinic admin explains a discrepancy; the ledger is adjusted to the count."""
    user = actor.user
    explanation = str(explanation or "").strip()
    if len(explanation) < 10:
        raise DrugRegisterError(
            "Explain what happened (at least a sentence); it goes in the register.", "explanation"
        )
    with transaction.atomic():
        discrepancy = (
            Discrepancy.objects.select_for_update()
            .select_related("count")
            .filter(pk=discrepancy_id)
            .first()
        )
        if discrepancy is None:
            raise DrugRegisterError("No such discrepancy.", "discrepancy")
        note_subject(obj=discrepancy)
        if DiscrepancyResolution.objects.filter(discrepancy=discrepancy).exists():
            raise DrugRegisterError(
                "Someone else has already resolved this discrepancy.", "discrepancy"
            )
        count = discrepancy.count
        now = timezone.now()
        adjustment = RegisterEntry.objects.create(
            kind=EntryKind.ADJUSTMENT,
            drug=count.drug,
            concentration_mg_per_ml=count.concentration_mg_per_ml,
            amount_mg=abs(discrepancy.difference_mg),
            stock_change_mg=discrepancy.difference_mg,
            reason=explanation,
            recorded_by=user,
            recorded_at=now,
        )
        resolution = DiscrepancyResolution.objects.create(
            discrepancy=discrepancy,
            explanation=explanation,
            adjustment=adjustment,
            resolved_by=user,
            resolved_at=now,
        )
        audit(
            actor,
            category=CATEGORY,
            action=Action.UPDATE,
            obj=discrepancy,
            detail={
                "resolution_id": resolution.pk,
                "adjustment_entry_id": adjustment.pk,
                "difference_mg": str(discrepancy.difference_mg),
                "explanation": explanation,
            },
        )
    return resolution


def entries_filter(
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    lot: str = "",
    concentration: Decimal | None = None,
    kind: str = "",
) -> Any:
    """Register entries matching the filters (dates are clinic-local, inclusive)."""
    from painclinic.web.lib.clinictime import local_day_bounds

    queryset = RegisterEntry.objects.select_related("recorded_by", "witness", "patient")
    condition = Q()
    if date_from:
        condition &= Q(recorded_at__gte=local_day_bounds(date_from)[0])
    if date_to:
        condition &= Q(recorded_at__lt=local_day_bounds(date_to)[1])
    if lot:
        condition &= Q(lot__iexact=lot.strip())
    if concentration is not None:
        condition &= Q(concentration_mg_per_ml=concentration)
    if kind:
        condition &= Q(kind=kind)
    return queryset.filter(condition)
