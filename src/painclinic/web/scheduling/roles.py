"""Who may do what with chairs and bookings: read by the views (``@allow_roles``) and services.

One entry per ``do_*`` service (the name without ``do_``) and per page that only reads. The
front desk books, moves and cancels; the clinic admin keeps the chairs, their hours and the
clinic's closures; physicians and nurses read bookings (and see the board), the admin sees the
board. A booking whose infusion chart is open is cancelled from the chart by a nurse or a
physician (``infusions``), which cancels the booking through
``services.cancel_booking_of_session``.
"""

from __future__ import annotations

from painclinic.web.accounts.models import Role
from painclinic.web.lib.service import RoleTable

FRONT_DESK = (Role.FRONT_DESK,)
CHAIR_ADMINS = (Role.CLINIC_ADMIN,)
BOOKING_READERS = (Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK)

ROLES = RoleTable(
    # --- services ---
    book_series=FRONT_DESK,
    reschedule_booking=FRONT_DESK,
    cancel_booking=FRONT_DESK,
    save_chair=CHAIR_ADMINS,
    set_chair_active=CHAIR_ADMINS,
    add_closure=CHAIR_ADMINS,
    reopen=CHAIR_ADMINS,
    # The helper the infusion cancellation calls inside its own transaction.
    cancel_booking_of_session=(Role.NURSE, Role.PHYSICIAN),
    # --- pages that only read ---
    view_board=(Role.PHYSICIAN, Role.NURSE, Role.FRONT_DESK, Role.CLINIC_ADMIN),
    view_chairs=CHAIR_ADMINS,
    view_patient_bookings=BOOKING_READERS,
    view_booking=BOOKING_READERS,
)
