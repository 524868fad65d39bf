"""Who may do what in the controlled-drug register: read by its views and by its services.

One entry per ``do_*`` service (the name without ``do_``) and per page that only reads. Only a
nurse moves drug in or out of the register or counts the safe; a physician or the clinic admin
resolves a discrepancy; the clinical staff and the clinic admin read it. (The witness of a waste
or destruction is any nurse or physician other than the recorder: checked by
``services.verify_witness``, since the witness is not the actor.)
"""

from __future__ import annotations

from painclinic.web.accounts.models import Role
from painclinic.web.lib.service import RoleTable

NURSE = (Role.NURSE,)
READERS = (Role.PHYSICIAN, Role.NURSE, Role.CLINIC_ADMIN)

ROLES = RoleTable(
    # --- services ---
    record_receipt=NURSE,
    record_draw=NURSE,
    record_waste=NURSE,
    record_destruction=NURSE,
    record_count=NURSE,
    resolve_discrepancy=(Role.PHYSICIAN, Role.CLINIC_ADMIN),
    # --- pages that only read ---
    view_register=READERS,
    list_discrepancies=READERS,
    list_entries=READERS,
)
