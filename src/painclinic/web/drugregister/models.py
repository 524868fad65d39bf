"""Controlled-drug register (ketamine, Schedule I in Canada): an append-only ledger.

Every row is written once and never changed or deleted (``save()`` of an existing row,
``QuerySet.update()`` and ``delete()`` raise :class:`AppendOnlyError`). A mistake is corrected
by a later row: a count that disagrees with the ledger opens a :class:`Discrepancy`; its
:class:`DiscrepancyResolution` (physician or clinic admin) adds an ``adjustment`` entry so that
the ledger balance equals what is physically in the safe.

Stock arithmetic (per drug and vial concentration), all in mg:

* ``receipt``     ``stock_change_mg = +vial_count x vial_volume_ml x concentration``
* ``draw``        ``stock_change_mg = -amount_mg`` (drug taken out of the safe for a session)
* ``waste``       ``stock_change_mg = 0``: the witnessed disposal of the unused part of what
  was drawn for that session (it already left the stock when it was drawn)
* ``destruction`` ``stock_change_mg = -amount_mg``: expired or damaged vials taken out of the
  safe for destruction, witnessed like waste
* ``adjustment``  ``stock_change_mg = counted - computed`` when a discrepancy is resolved

Balance = sum of ``stock_change_mg``.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from painclinic.web.lib.appendonly import AppendOnlyModel


class ControlledDrug(models.TextChoices):
    KETAMINE = "ketamine", "Ketamine"


class EntryKind(models.TextChoices):
    RECEIPT = "receipt", "Received"
    DRAW = "draw", "Drawn for a session"
    WASTE = "waste", "Wasted (witnessed)"
    DESTRUCTION = "destruction", "Destroyed from stock (witnessed)"
    ADJUSTMENT = "adjustment", "Count adjustment"


class RegisterEntry(AppendOnlyModel):
    """One line of the register. Which optional columns are filled depends on ``kind``."""

    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    drug = models.CharField(
        max_length=20, choices=ControlledDrug.choices, default=ControlledDrug.KETAMINE
    )
    concentration_mg_per_ml = models.DecimalField(max_digits=7, decimal_places=2)
    # Always positive: mg received, drawn, wasted, or the size of an adjustment.
    amount_mg = models.DecimalField(max_digits=10, decimal_places=2)
    # Signed effect on the stock in the safe (see the module docstring).
    stock_change_mg = models.DecimalField(max_digits=10, decimal_places=2)
    lot = models.CharField(max_length=40, blank=True)
    # Receipt columns.
    expiry_date = models.DateField(null=True, blank=True)
    vial_volume_ml = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    vial_count = models.PositiveIntegerField(null=True, blank=True)
    supplier = models.CharField(max_length=120, blank=True)
    reference = models.CharField(max_length=80, blank=True, help_text="invoice or order number")
    # Draw and waste columns.
    session = models.ForeignKey(
        "infusions.InfusionSession",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="register_entries",
    )
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    witness = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["drug", "concentration_mg_per_ml"], name="register_conc"),
            models.Index(fields=["lot"], name="register_lot"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_mg} mg {self.drug} {self.concentration_mg_per_ml} mg/mL"

    @property
    def volume_ml(self) -> Decimal:
        return self.amount_mg / self.concentration_mg_per_ml


class StockCount(AppendOnlyModel):
    """A physical count of one concentration compared with the ledger balance at that moment."""

    drug = models.CharField(
        max_length=20, choices=ControlledDrug.choices, default=ControlledDrug.KETAMINE
    )
    concentration_mg_per_ml = models.DecimalField(max_digits=7, decimal_places=2)
    full_vials = models.PositiveIntegerField()
    vial_volume_ml = models.DecimalField(max_digits=6, decimal_places=2)
    open_vial_ml = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("0"))
    counted_mg = models.DecimalField(max_digits=10, decimal_places=2)
    computed_mg = models.DecimalField(max_digits=10, decimal_places=2)
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    counted_at = models.DateTimeField(db_index=True)
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-counted_at", "-id"]

    def __str__(self) -> str:
        return f"count {self.concentration_mg_per_ml} mg/mL: {self.counted_mg} mg"

    @property
    def difference_mg(self) -> Decimal:
        return self.counted_mg - self.computed_mg


class Discrepancy(AppendOnlyModel):
    """Opened by a count that disagrees with the ledger; open until a resolution row exists."""

    count = models.OneToOneField(StockCount, on_delete=models.PROTECT, related_name="discrepancy")
    difference_mg = models.DecimalField(max_digits=10, decimal_places=2)
    opened_at = models.DateTimeField()

    class Meta:
        ordering = ["-opened_at", "-id"]

    def __str__(self) -> str:
        return f"discrepancy {self.pk}: {self.difference_mg} mg"


class DiscrepancyResolution(AppendOnlyModel):
    """The physician's or clinic admin's explanation; adjusts the ledger to the count."""

    discrepancy = models.OneToOneField(
        Discrepancy, on_delete=models.PROTECT, related_name="resolution"
    )
    explanation = models.TextField()
    adjustment = models.OneToOneField(
        RegisterEntry, on_delete=models.PROTECT, related_name="resolution"
    )
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"resolution of discrepancy {self.discrepancy_id}"
