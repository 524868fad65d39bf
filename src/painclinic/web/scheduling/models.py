"""Chairs and bookings. Times are stored in UTC; opening hours are clinic-local wall times."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Chair(models.Model):
    name = models.CharField(max_length=60, unique=True)
    location = models.CharField(max_length=100, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class OpeningHours(models.Model):
    chair = models.ForeignKey(Chair, on_delete=models.PROTECT, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(help_text="0 = Monday ... 6 = Sunday")
    opens = models.TimeField(help_text="clinic local time")
    closes = models.TimeField(help_text="clinic local time")
    # A closed day keeps its row (never deleted), switched off.
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["chair", "weekday", "opens"]

    def __str__(self) -> str:
        return f"{self.chair} day {self.weekday} {self.opens}-{self.closes}"


class BookingStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    CANCELLED = "cancelled", "Cancelled"
    COMPLETED = "completed", "Completed"


class Booking(models.Model):
    """A chair for a patient over [starts_at, ends_at). Cancelled and moved bookings stay."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="bookings"
    )
    chair = models.ForeignKey(Chair, on_delete=models.PROTECT, related_name="bookings")
    plan = models.ForeignKey(
        "treatments.TreatmentPlan",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bookings",
    )
    planned_session = models.ForeignKey(
        "treatments.PlannedSession",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bookings",
    )
    starts_at = models.DateTimeField(db_index=True)
    ends_at = models.DateTimeField()
    status = models.CharField(
        max_length=20, choices=BookingStatus.choices, default=BookingStatus.BOOKED
    )
    cancel_reason = models.TextField(blank=True)
    rescheduled_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="rescheduled_to"
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    booked_at = models.DateTimeField()
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["starts_at", "chair"]
        indexes = [models.Index(fields=["chair", "starts_at"], name="booking_chair_start")]

    def __str__(self) -> str:
        return f"{self.chair} {self.starts_at:%Y-%m-%d %H:%M} patient {self.patient_id}"


class ClinicClosure(models.Model):
    """A whole day the clinic is closed (statutory holiday, staff training). Series skip it and
    no booking may land on it. Reopening switches the row off; rows are never deleted."""

    date = models.DateField(help_text="clinic local date")
    reason = models.CharField(max_length=120)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(
                fields=["date"], condition=models.Q(active=True), name="one_active_closure_a_day"
            )
        ]

    def __str__(self) -> str:
        return f"closed {self.date:%Y-%m-%d}: {self.reason}"
