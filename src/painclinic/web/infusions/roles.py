"""Who may do what on infusion day: read by the views (``@allow_roles``) and the services.

One entry per ``do_*`` service (the name without ``do_``) and per page that only reads. The
nurse charts the infusion; a physician may also acknowledge alerts, record adverse events,
write, sign and amend the note and cancel a session that has not started; a serious adverse
event's 24-hour report is marked sent by a physician or the clinic admin. Only a physician
opens a chart on another day than its booking's (with the reason).
"""

from __future__ import annotations

from painclinic.web.accounts.models import Role
from painclinic.web.lib.service import RoleTable

NURSE = (Role.NURSE,)
CLINICIANS = (Role.PHYSICIAN, Role.NURSE)
AE_REPORTERS = (Role.PHYSICIAN, Role.CLINIC_ADMIN)

ROLES = RoleTable(
    # --- services ---
    open_session=NURSE,
    # On another day than the booking's, with the reason: a physician's decision.
    open_session_off_day=(Role.PHYSICIAN,),
    complete_checklist=NURSE,
    prepare_bag=NURSE,
    double_check=NURSE,
    start=NURSE,
    pause=NURSE,
    resume=NURSE,
    change_rate=NURSE,
    stop=NURSE,
    record_observation=NURSE,
    acknowledge_alert=CLINICIANS,
    record_adverse_event=CLINICIANS,
    discharge=NURSE,
    save_note=CLINICIANS,
    amend_note=CLINICIANS,
    # Only a nurse records controlled-drug waste (the drug register's rule).
    waste_remainder=NURSE,
    cancel_session=CLINICIANS,
    mark_adverse_event_reported=AE_REPORTERS,
    # --- pages that only read ---
    view_chart=CLINICIANS,
    list_serious_events=(Role.PHYSICIAN, Role.NURSE, Role.CLINIC_ADMIN),
    list_serious_events_to_report=AE_REPORTERS,
)
