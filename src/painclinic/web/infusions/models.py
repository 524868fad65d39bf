"""The infusion session and the rows a nurse charts on infusion day.

Every row is append-only in practice: nothing is hard-deleted (``on_delete=PROTECT``), a
superseded bag preparation keeps its status, a signed note is corrected by amendments.
Times are aware UTC datetimes; durations are computed on UTC instants.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CHECKLIST_DONE = "checklist_done", "Checklist done"
    PREPARED = "prepared", "Bag prepared and double-checked"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    STOPPED = "stopped", "Stopped"
    DISCHARGED = "discharged", "Discharged"
    SIGNED = "signed", "Note signed"
    CANCELLED = "cancelled", "Cancelled"


class InfusionSession(models.Model):
    """One infusion for one booking; charting rows hang off it; ``version`` guards edits."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="infusion_sessions"
    )
    booking = models.OneToOneField(
        "scheduling.Booking", on_delete=models.PROTECT, related_name="infusion_session"
    )
    plan = models.ForeignKey(
        "treatments.TreatmentPlan", on_delete=models.PROTECT, related_name="infusion_sessions"
    )
    planned_session = models.ForeignKey(
        "treatments.PlannedSession", on_delete=models.PROTECT, related_name="infusion_sessions"
    )
    status = models.CharField(
        max_length=20, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The plan's dosing weight, copied when the session is opened: every mg/kg dose uses it.
    dosing_weight_kg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    # A chart is opened on its booking's clinic day; on another day only by a physician, who
    # documents why (``opened_by`` is that physician).
    opened_off_day_reason = models.TextField(blank=True)
    # Set by billing while a live charge bills this session (and cleared when a full credit
    # note releases it): the billing worklist reads the few unbilled sessions through a partial
    # index instead of testing every signed session of the clinic against its charges.
    billed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-booking__starts_at"]
        indexes = [
            models.Index(
                fields=["id"],
                name="session_unbilled_by_id",
                condition=models.Q(billed=False, status__in=["signed", "cancelled"]),
            )
        ]
        constraints = [
            # One running or paused infusion per patient, whatever writes the status (the
            # start checks it first and names the other chair; this settles a race).
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(status__in=["running", "paused"]),
                name="one_running_infusion_per_patient",
            )
        ]

    def __str__(self) -> str:
        return f"infusion {self.pk} patient {self.patient_id}"


class SessionEvent(models.Model):
    """The session's own change log: one row per state change, with the version it produced.

    A stale form (``expected_version`` older than the session's) is answered with the events
    recorded since, so the nurse sees what the other person charted.
    """

    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="events")
    version = models.PositiveIntegerField(help_text="session version after this change")
    kind = models.CharField(max_length=30)
    summary = models.CharField(max_length=300)
    occurred_at = models.DateTimeField(help_text="clinical time of the event (UTC)")
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["session", "version"]
        indexes = [models.Index(fields=["session", "version"], name="infusion_event_version")]

    def __str__(self) -> str:
        return f"v{self.version} {self.kind} session {self.session_id}"


class PregnancyTest(models.TextChoices):
    NOT_APPLICABLE = "not_applicable", "Not applicable"
    NEGATIVE = "negative", "Negative"
    POSITIVE = "positive", "Positive"


class PreInfusionChecklist(models.Model):
    """The checklist as passed (a failing checklist is refused on its fields, not saved)."""

    session = models.OneToOneField(
        InfusionSession, on_delete=models.PROTECT, related_name="checklist"
    )
    systolic_bp_mmhg = models.PositiveSmallIntegerField()
    diastolic_bp_mmhg = models.PositiveSmallIntegerField()
    heart_rate_bpm = models.PositiveSmallIntegerField()
    respiratory_rate_per_min = models.PositiveSmallIntegerField()
    spo2_percent = models.PositiveSmallIntegerField()
    escort_name = models.CharField(max_length=120)
    escort_phone = models.CharField(max_length=30)
    last_solids_at = models.DateTimeField()
    last_clear_fluids_at = models.DateTimeField()
    fasting_solids_hours_required = models.DecimalField(max_digits=4, decimal_places=1)
    fasting_clear_fluids_hours_required = models.DecimalField(max_digits=4, decimal_places=1)
    pregnancy_test = models.CharField(max_length=20, choices=PregnancyTest.choices)
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1)
    plan_weight_kg = models.DecimalField(max_digits=5, decimal_places=1)
    no_new_conditions_confirmed = models.BooleanField()
    # painclinic.clinical eligibility re-run on today's facts: {"absolute": [...], ...}
    rescreen = models.JSONField(default=dict)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    completed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"checklist of session {self.session_id}"


class PreparationStatus(models.TextChoices):
    AWAITING_CHECK = "awaiting_check", "Awaiting independent double check"
    VERIFIED = "verified", "Double-checked: matches"
    MISMATCH = "mismatch", "Double check found a mismatch"


class BagPreparation(models.Model):
    """Nurse 1's entry: the bag made from a standard concentration."""

    session = models.ForeignKey(
        InfusionSession, on_delete=models.PROTECT, related_name="preparations"
    )
    drug = models.CharField(max_length=20)
    vial_concentration_mg_per_ml = models.DecimalField(max_digits=7, decimal_places=3)
    bag_concentration_mg_per_ml = models.DecimalField(max_digits=7, decimal_places=3)
    dose_value = models.DecimalField(max_digits=9, decimal_places=4)
    dose_unit = models.CharField(max_length=12)
    pump_rate_entered_ml_per_h = models.DecimalField(max_digits=7, decimal_places=2)
    rate_mg_per_h = models.DecimalField(max_digits=9, decimal_places=4)
    rate_ml_per_h = models.DecimalField(max_digits=7, decimal_places=2)
    drawn_mg = models.DecimalField(max_digits=8, decimal_places=2)
    vial_lot = models.CharField(max_length=40)
    status = models.CharField(
        max_length=20, choices=PreparationStatus.choices, default=PreparationStatus.AWAITING_CHECK
    )
    # Whether do_record_draw of the drug register recorded the draw (False: only here).
    register_draw_recorded = models.BooleanField(default=False)
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    prepared_at = models.DateTimeField()

    class Meta:
        ordering = ["session", "prepared_at", "id"]

    def __str__(self) -> str:
        return f"bag {self.pk} of session {self.session_id} ({self.status})"


class DoubleCheck(models.Model):
    """Nurse 2's blind entry and the comparison with nurse 1 and the plan."""

    preparation = models.OneToOneField(
        BagPreparation, on_delete=models.PROTECT, related_name="double_check"
    )
    drug = models.CharField(max_length=20)
    bag_concentration_mg_per_ml = models.DecimalField(max_digits=7, decimal_places=3)
    dose_value = models.DecimalField(max_digits=9, decimal_places=4)
    dose_unit = models.CharField(max_length=12)
    pump_rate_entered_ml_per_h = models.DecimalField(max_digits=7, decimal_places=2)
    rate_mg_per_h = models.DecimalField(max_digits=9, decimal_places=4)
    matches = models.BooleanField()
    # [{"field", "label", "nurse_1", "nurse_2", "plan"}] for every value that differs.
    mismatches = models.JSONField(default=list)
    # Why the bag may go ahead though the patient's 24-hour total is above the drug library's
    # soft limit (empty when it is not); the start carries it.
    limit_reason = models.TextField(blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    checked_at = models.DateTimeField()

    def __str__(self) -> str:
        return (
            f"double check of bag {self.preparation_id}: {'match' if self.matches else 'mismatch'}"
        )


class RateSegment(models.Model):
    """A stretch of constant rate: [started_at, ended_at). ``ended_at`` is null while running."""

    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="segments")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    dose_value = models.DecimalField(max_digits=9, decimal_places=4)
    dose_unit = models.CharField(max_length=12)
    rate_mg_per_h = models.DecimalField(max_digits=9, decimal_places=4)
    rate_ml_per_h = models.DecimalField(max_digits=7, decimal_places=2)
    concentration_mg_per_ml = models.DecimalField(max_digits=7, decimal_places=3)
    start_reason = models.CharField(max_length=20)  # start | resume | rate_change
    end_reason = models.CharField(max_length=20, blank=True)  # pause | stop | rate_change
    limit_status = models.CharField(max_length=20, default="within")
    limit_reason = models.TextField(blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["session", "started_at", "id"]

    def __str__(self) -> str:
        return f"{self.rate_mg_per_h} mg/h from {self.started_at:%Y-%m-%d %H:%M}"


class ObservationPhase(models.TextChoices):
    INFUSION = "infusion", "During the infusion"
    RECOVERY = "recovery", "Recovery"


class Observation(models.Model):
    """One round of observations, during the infusion or in recovery after the stop.

    A vital sign may be left empty when it could not be measured: the round is then
    "incomplete" (``action``), shown so on the chart, and does not count as done.
    """

    session = models.ForeignKey(
        InfusionSession, on_delete=models.PROTECT, related_name="observations"
    )
    observed_at = models.DateTimeField()
    phase = models.CharField(
        max_length=10, choices=ObservationPhase.choices, default=ObservationPhase.INFUSION
    )
    systolic_bp_mmhg = models.PositiveSmallIntegerField(null=True, blank=True)
    diastolic_bp_mmhg = models.PositiveSmallIntegerField(null=True, blank=True)
    heart_rate_bpm = models.PositiveSmallIntegerField(null=True, blank=True)
    respiratory_rate_per_min = models.PositiveSmallIntegerField(null=True, blank=True)
    spo2_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    rass = models.SmallIntegerField(null=True, blank=True)
    moaas = models.SmallIntegerField(null=True, blank=True)
    cadss6 = models.SmallIntegerField(null=True, blank=True)
    pain_nrs = models.SmallIntegerField(null=True, blank=True)
    symptoms = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=300, blank=True)
    rate_mg_per_h = models.DecimalField(max_digits=9, decimal_places=4, null=True, blank=True)
    # painclinic.clinical.evaluate_observation(...).to_dict()
    action = models.CharField(max_length=30)
    decision = models.JSONField(default=dict)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["session", "observed_at", "id"]
        indexes = [models.Index(fields=["session", "observed_at"], name="infusion_obs_time")]

    def __str__(self) -> str:
        return f"observation {self.pk} of session {self.session_id}"


class AlertResponse(models.TextChoices):
    REDUCE_RATE = "reduce_rate", "Reduce the rate"
    PAUSE = "pause", "Pause the infusion"
    STOP = "stop", "Stop the infusion"
    NO_CHANGE = "no_change", "No change to the infusion (say why)"


class Alert(models.Model):
    session = models.ForeignKey(InfusionSession, on_delete=models.PROTECT, related_name="alerts")
    observation = models.OneToOneField(Observation, on_delete=models.PROTECT, related_name="alert")
    action = models.CharField(max_length=30)
    reasons = models.JSONField(default=list)
    raised_at = models.DateTimeField()
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    response = models.CharField(max_length=20, choices=AlertResponse.choices, blank=True)
    action_taken = models.TextField(blank=True)
    rate_segment = models.ForeignKey(
        RateSegment, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["session", "raised_at", "id"]

    def __str__(self) -> str:
        return f"alert {self.pk} ({self.action}) of session {self.session_id}"


class AESeverity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"
    LIFE_THREATENING = "life_threatening", "Life-threatening"
    DEATH = "death", "Death"


class AEType(models.TextChoices):
    HYPERTENSION = "hypertension", "Hypertension"
    HYPOTENSION = "hypotension", "Hypotension"
    TACHYCARDIA = "tachycardia", "Tachycardia"
    BRADYCARDIA = "bradycardia", "Bradycardia / arrhythmia"
    RESPIRATORY_DEPRESSION = "respiratory_depression", "Respiratory depression / desaturation"
    NAUSEA_VOMITING = "nausea_vomiting", "Nausea or vomiting"
    DISSOCIATION = "dissociation", "Dissociation / hallucinations / dysphoria"
    OVERSEDATION = "oversedation", "Over-sedation"
    LAST = "last", "Local anaesthetic systemic toxicity (LAST)"
    SEIZURE = "seizure", "Seizure"
    ANAPHYLAXIS = "anaphylaxis", "Allergic reaction / anaphylaxis"
    MEDICATION_ERROR = "medication_error", "Medication error"
    FALL = "fall", "Fall or injury"
    TRANSFER = "transfer", "Transfer to hospital"
    OTHER = "other", "Other"


class AEOutcome(models.TextChoices):
    RESOLVED = "resolved", "Resolved"
    RESOLVING = "resolving", "Resolving"
    ONGOING = "ongoing", "Ongoing"
    TRANSFERRED = "transferred", "Transferred to hospital"
    DEATH = "death", "Death"


class AdverseEvent(models.Model):
    session = models.ForeignKey(
        InfusionSession, on_delete=models.PROTECT, related_name="adverse_events"
    )
    occurred_at = models.DateTimeField()
    event_type = models.CharField(max_length=30, choices=AEType.choices)
    severity = models.CharField(max_length=20, choices=AESeverity.choices)
    description = models.TextField(blank=True)
    action_taken = models.TextField()
    outcome = models.CharField(max_length=20, choices=AEOutcome.choices)
    serious = models.BooleanField()
    # CPSO out-of-hospital premises programme: serious events reported within 24 hours.
    report_due_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()
    # Set once by do_mark_adverse_event_reported and never changed: a correction is a new,
    # audited note (an amendment of the session note), not an overwrite.
    reported_at = models.DateTimeField(null=True, blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    report_reference = models.CharField(
        max_length=200, blank=True, help_text="CPSO/OHP report number, or to whom it was sent"
    )

    class Meta:
        ordering = ["session", "occurred_at", "id"]
        indexes = [models.Index(fields=["serious", "report_due_at"], name="infusion_ae_serious")]

    def __str__(self) -> str:
        return f"adverse event {self.pk} ({self.event_type}) of session {self.session_id}"


class CancelReason(models.TextChoices):
    PATIENT_UNWELL = "patient_unwell", "Patient unwell"
    FAILED_SCREEN = "failed_screen", "Failed the pre-infusion screen"
    NO_ESCORT = "no_escort", "No escort home"
    DID_NOT_ATTEND = "did_not_attend", "Patient did not attend"
    OTHER = "other", "Other (say what)"


class SessionCancellation(models.Model):
    """Why and by whom a session that never started was cancelled (written once)."""

    session = models.OneToOneField(
        InfusionSession, on_delete=models.PROTECT, related_name="cancellation"
    )
    reason = models.CharField(max_length=20, choices=CancelReason.choices)
    detail = models.TextField(blank=True)
    status_before = models.CharField(max_length=20, choices=SessionStatus.choices)
    # The drug register's witnessed waste of what had been drawn for the bag (if any).
    waste_entry = models.OneToOneField(
        "drugregister.RegisterEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    cancelled_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"cancellation of session {self.session_id} ({self.reason})"

    @property
    def reason_text(self) -> str:
        label = str(self.get_reason_display())
        if self.reason == CancelReason.OTHER:
            return self.detail
        return f"{label}: {self.detail}" if self.detail else label


class Discharge(models.Model):
    session = models.OneToOneField(
        InfusionSession, on_delete=models.PROTECT, related_name="discharge"
    )
    aldrete_answers = models.JSONField()
    aldrete_score = models.PositiveSmallIntegerField()
    # The modified PADSS (Chung 1995): answers by item and total; the vital-signs item is
    # computed from the pre-infusion and the last recovery round.
    padss_answers = models.JSONField(default=dict)
    padss_score = models.PositiveSmallIntegerField(null=True, blank=True)
    # painclinic.clinical.monitoring.assess_discharge(...).to_dict() at discharge
    criteria = models.JSONField(default=dict)
    escort_name = models.CharField(max_length=120)
    escort_phone = models.CharField(max_length=30)
    discharged_at = models.DateTimeField()
    discharged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"discharge of session {self.session_id}"


class SessionNote(models.Model):
    """The summary note: editable as a draft, locked once signed (then amended only)."""

    session = models.OneToOneField(InfusionSession, on_delete=models.PROTECT, related_name="note")
    text = models.TextField()
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"note of session {self.session_id}"

    @property
    def signed(self) -> bool:
        return self.signed_at is not None


class NoteAmendment(models.Model):
    """A signed correction appended to a signed note; the original stays as it was."""

    note = models.ForeignKey(SessionNote, on_delete=models.PROTECT, related_name="amendments")
    text = models.TextField()
    reason = models.CharField(max_length=300)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField()

    class Meta:
        ordering = ["note", "signed_at", "id"]

    def __str__(self) -> str:
        return f"amendment {self.pk} of note {self.note_id}"
