"""Where money lives: invoices, credit notes, payments, refunds, deposits, payers, the daily close.

Money is integer cents. Financial rows are append-only (``AppendOnlyModel``): an issued invoice
is never changed, only credited by a credit note that refers to it; a payment entered by
mistake is reversed by a later reversal row; a closed day is never reopened. Two rows change
after they are written, and neither holds money: the invoice number sequence (its counter) and
a :class:`Charge`'s ``credited_by`` (set when every invoice that billed the event was fully
credited, so the event may be billed again).

Balances are computed, never stored:

* invoice balance = total - credit notes against it - allocations to it (allocations are signed:
  a refund of an overpaid invoice's payment writes a negative allocation);
* a payment's unapplied amount = amount - its allocations - its refunds (a deposit is a payment
  that waits, unapplied, for its series' invoices).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from painclinic.web.lib.appendonly import AppendOnlyModel


class PayerKind(models.TextChoices):
    WSIB = "wsib", "WSIB"
    AUTO = "auto", "Auto insurer"
    PRIVATE_PLAN = "private_plan", "Extended health plan"
    OTHER = "other", "Other third party"


class Payer(models.Model):
    """A third party that pays part of a patient's bill. Never deleted: deactivated."""

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=PayerKind.choices)
    address = models.TextField(blank=True)
    phone = models.CharField(max_length=30, blank=True)
    email = models.EmailField(blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Coverage(models.Model):
    """A patient's claim or plan with a payer, and the payer's share of each service.

    WSIB: ``claim_number``; auto insurers: ``claim_number`` and ``policy_number``; private plans:
    ``plan_name``, ``group_number`` and ``member_id``. Never deleted: ended.
    """

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="coverages"
    )
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="coverages")
    claim_number = models.CharField(max_length=40, blank=True)
    policy_number = models.CharField(max_length=40, blank=True)
    plan_name = models.CharField(max_length=120, blank=True)
    group_number = models.CharField(max_length=40, blank=True)
    member_id = models.CharField(max_length=40, blank=True)
    # The payer's share of each line, in basis points (8000 = 80 %); the patient pays the rest.
    payer_share_basis_points = models.PositiveIntegerField()
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-active", "-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.payer} for patient {self.patient_id}"

    @property
    def share_percent_text(self) -> str:
        whole, rest = divmod(self.payer_share_basis_points, 100)
        return f"{whole}%" if not rest else f"{whole}.{rest:02d}".rstrip("0") + "%"

    @property
    def identifiers(self) -> list[tuple[str, str]]:
        """The numbers a payer asks for, labelled, in the order a claim form lists them."""
        pairs = [
            ("Claim number", self.claim_number),
            ("Policy number", self.policy_number),
            ("Plan", self.plan_name),
            ("Group number", self.group_number),
            ("Member ID", self.member_id),
        ]
        return [(label, value) for label, value in pairs if value]


class InvoiceSequence(models.Model):
    """The next invoice number, taken under a row lock: no gaps, no duplicates."""

    name = models.CharField(max_length=20, unique=True)
    next_number = models.PositiveBigIntegerField(default=1)

    def __str__(self) -> str:
        return f"{self.name} next {self.next_number}"


class InvoiceKind(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    CREDIT_NOTE = "credit_note", "Credit note"


class Invoice(AppendOnlyModel):
    """An issued invoice or credit note: written once, never changed.

    Amounts are positive for both kinds; a credit note (``credits`` set) reduces the balance of
    the invoice it refers to. Bill-to and provider are copied at issue, so a later change of
    address or registration does not alter an issued document.
    """

    number = models.PositiveBigIntegerField(unique=True)
    kind = models.CharField(max_length=20, choices=InvoiceKind.choices)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="invoices"
    )
    # Billed to the payer of this coverage; blank: billed to the patient.
    coverage = models.ForeignKey(
        Coverage, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    bill_to_name = models.CharField(max_length=200)
    bill_to_address = models.TextField(blank=True)
    credits = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="credit_notes"
    )
    # A full credit note reverses every line (the events may be billed again); a partial one
    # takes an amount off (a discount, a payer's short payment written off).
    full_credit = models.BooleanField(default=False)
    # The other half of a split: the patient's invoice points at the payer's, and back.
    split_with = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    plan = models.ForeignKey(
        "treatments.TreatmentPlan",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="invoices",
    )
    provider = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    provider_name = models.CharField(max_length=200, blank=True)
    provider_registration = models.CharField(max_length=40, blank=True)
    issued_on = models.DateField(db_index=True, help_text="clinic local date")
    due_on = models.DateField(null=True, blank=True)
    issued_at = models.DateTimeField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    subtotal_cents = models.BigIntegerField()
    tax_cents = models.BigIntegerField()
    total_cents = models.BigIntegerField()
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-number"]
        indexes = [
            models.Index(fields=["patient", "issued_on"], name="invoice_patient_issued"),
            models.Index(fields=["kind", "issued_on"], name="invoice_kind_issued"),
            # Almost always empty columns: after ANALYZE, SQLite preferred scanning the number
            # index to the plain column index (16 ms at 60,000 invoices, 0.02 ms partial).
            models.Index(
                fields=["credits"],
                name="invoice_credits_set",
                condition=models.Q(credits__isnull=False),
            ),
            models.Index(
                fields=["split_with"],
                name="invoice_split_with_set",
                condition=models.Q(split_with__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.display_number

    @property
    def display_number(self) -> str:
        prefix = "CN" if self.kind == InvoiceKind.CREDIT_NOTE else "INV"
        return f"{prefix}-{self.number:06d}"

    @property
    def is_credit_note(self) -> bool:
        return self.kind == InvoiceKind.CREDIT_NOTE


class InvoiceLine(AppendOnlyModel):
    """One service on an invoice: what, when, how many, at what price, with its tax."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveIntegerField()
    fee_code = models.CharField(max_length=30)
    description = models.CharField(max_length=300)
    service_date = models.DateField(null=True, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    unit_cents = models.BigIntegerField()
    amount_cents = models.BigIntegerField()
    # The whole line before a payer split (equal to ``amount_cents`` when not split).
    full_amount_cents = models.BigIntegerField()
    tax_category = models.CharField(max_length=20)
    tax_cents = models.BigIntegerField(default=0)
    drug = models.CharField(max_length=20, blank=True)
    session_minutes = models.PositiveIntegerField(null=True, blank=True)
    session = models.ForeignKey(
        "infusions.InfusionSession",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    booking = models.ForeignKey(
        "scheduling.Booking", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        # By the column, not the relation: "invoice" would join the invoice for its ordering.
        ordering = ["invoice_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "position"], name="invoice_line_position")
        ]

    def __str__(self) -> str:
        return f"{self.invoice} line {self.position}"


class ChargeKind(models.TextChoices):
    SESSION = "session", "Infusion session"
    CONSULT = "consult", "Planning and consent visit"
    PACKAGE = "package", "Series package"
    MISSED = "missed", "Missed appointment"
    LATE_CANCEL = "late_cancel", "Late cancellation"


class Charge(models.Model):
    """A clinical event billed: at most one live charge per event, so nothing is billed twice.

    ``credited_by`` is set (the one change this row ever sees) when every invoice that billed it
    was fully credited; the event may then be billed again, correctly.
    """

    kind = models.CharField(max_length=20, choices=ChargeKind.choices)
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(
        "treatments.TreatmentPlan",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    session = models.ForeignKey(
        "infusions.InfusionSession",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="charges",
    )
    booking = models.ForeignKey(
        "scheduling.Booking",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="charges",
    )
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="charges")
    payer_invoice = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="payer_charges"
    )
    created_at = models.DateTimeField()
    credited_by = models.ForeignKey(
        Invoice, null=True, blank=True, on_delete=models.PROTECT, related_name="released_charges"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "kind"],
                condition=models.Q(session__isnull=False, credited_by__isnull=True),
                name="one_live_charge_per_session",
            ),
            models.UniqueConstraint(
                fields=["booking", "kind"],
                condition=models.Q(booking__isnull=False, credited_by__isnull=True),
                name="one_live_charge_per_booking",
            ),
            models.UniqueConstraint(
                fields=["plan", "kind"],
                condition=models.Q(kind__in=["consult", "package"], credited_by__isnull=True),
                name="one_live_plan_charge",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} charge on {self.invoice}"


class PaymentMethod(models.TextChoices):
    CASH = "cash", "Cash"
    DEBIT = "debit", "Debit card"
    CREDIT_CARD = "credit_card", "Credit card"
    E_TRANSFER = "e_transfer", "Interac e-Transfer"
    CHEQUE = "cheque", "Cheque"
    INSURER = "insurer", "Paid directly by the insurer"


class PaymentKind(models.TextChoices):
    PAYMENT = "payment", "Payment"
    DEPOSIT = "deposit", "Deposit for a series"
    REVERSAL = "reversal", "Reversal of a payment entered in error"


class Payment(AppendOnlyModel):
    """Money received (or, for a reversal, a mistaken entry taken back: a negative amount)."""

    kind = models.CharField(max_length=20, choices=PaymentKind.choices)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="payments"
    )
    # A third party that paid (direct insurer payment); blank: the patient paid.
    payer = models.ForeignKey(
        Payer, null=True, blank=True, on_delete=models.PROTECT, related_name="payments"
    )
    plan = models.ForeignKey(
        "treatments.TreatmentPlan",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deposits",
    )
    method = models.CharField(max_length=20, choices=PaymentMethod.choices)
    amount_cents = models.BigIntegerField()
    reference = models.CharField(max_length=60, blank=True, help_text="cheque or transaction no.")
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversal"
    )
    reason = models.TextField(blank=True)
    received_on = models.DateField(db_index=True, help_text="clinic local date")
    received_at = models.DateTimeField()
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["patient", "received_on"], name="payment_patient_day")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_cents} cents for patient {self.patient_id}"


class Allocation(AppendOnlyModel):
    """Part of a payment applied to an invoice (negative: taken back off an overpaid invoice)."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="allocations")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="allocations")
    amount_cents = models.BigIntegerField()
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.amount_cents} cents of payment {self.payment_id} to {self.invoice_id}"


class Refund(AppendOnlyModel):
    """Money given back from a payment."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount_cents = models.BigIntegerField()
    method = models.CharField(max_length=20, choices=PaymentMethod.choices)
    reference = models.CharField(max_length=60, blank=True)
    reason = models.TextField()
    refunded_on = models.DateField(db_index=True, help_text="clinic local date")
    refunded_at = models.DateTimeField()
    refunded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"refund of {self.amount_cents} cents from payment {self.payment_id}"


class DailyClose(AppendOnlyModel):
    """A day's close: its totals as counted, written once. A closed day takes no more entries."""

    day = models.DateField(unique=True, help_text="clinic local date")
    expected_cash_cents = models.BigIntegerField()
    counted_cash_cents = models.BigIntegerField()
    difference_cents = models.BigIntegerField()
    # Payments by method and by clerk, refunds, invoices and credit notes of the day.
    totals = models.JSONField()
    note = models.TextField(blank=True)
    closed_at = models.DateTimeField()
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"close of {self.day:%Y-%m-%d}"


class OverdueReminderStatus(models.TextChoices):
    CLAIMED = "claimed", "Being sent"
    SENT = "sent", "E-mailed"
    FAILED = "failed", "E-mail failed"
    SKIPPED = "skipped", "Not e-mailed"


class OverdueReminder(models.Model):
    """One step of an overdue invoice's reminders (``INVOICE_REMINDER_DAYS``): an e-mail claimed
    by the worker, then sent or failed; or skipped, with the reason (billed to a payer, no
    e-mail address, no consent to e-mail), so staff know whom to call.

    Never deleted; written once, then only its status, ``sent_at`` and ``detail`` change (a
    claimed e-mail's outcome). One row per invoice and step: never the same reminder twice.
    """

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="overdue_reminders")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    sequence = models.PositiveSmallIntegerField(help_text="1 for the first step, ...")
    days_overdue = models.PositiveIntegerField()
    status = models.CharField(max_length=20, choices=OverdueReminderStatus.choices)
    to_address = models.EmailField(blank=True)
    balance_cents = models.BigIntegerField(help_text="the invoice's balance when claimed")
    claimed_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["invoice", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["invoice", "sequence"], name="one_overdue_reminder_per_step"
            )
        ]

    def __str__(self) -> str:
        return f"overdue reminder {self.sequence} for {self.invoice_id}"


class InvoiceStanding(models.Model):
    """What an invoice still asks, kept beside it (not a financial record: a read aid).

    Written in the same transaction as whatever changes the balance (an invoice issued, a
    credit note, an allocation: ``billing/signals.py``), so the overdue lists read the few open
    invoices through a partial index instead of working out every past-due invoice's balance;
    the pages still compute the balance they show from the financial rows themselves.
    """

    invoice = models.OneToOneField(Invoice, on_delete=models.PROTECT, related_name="standing")
    due_on = models.DateField(null=True, blank=True)
    balance_cents = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(
                fields=["due_on"],
                name="standing_open_due",
                condition=models.Q(balance_cents__gt=0),
            )
        ]

    def __str__(self) -> str:
        return f"{self.invoice_id} owes {self.balance_cents} cents"
