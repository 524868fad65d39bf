"""Who may do what with money: read by the billing views and services.

Billing staff manage money (invoices, payments, refunds, credit notes, payers, the daily close);
the clinic admin reads invoices and reports. Clinicians neither issue nor alter invoices. A
patient reads their own invoices and receipts in the portal (``view_own``).
"""

from __future__ import annotations

from painclinic.web.accounts.models import Role
from painclinic.web.lib.service import RoleTable

B = Role.BILLING
A = Role.CLINIC_ADMIN

ROLES = RoleTable(
    # --- services ---
    add_payer=(B,),
    add_coverage=(B,),
    end_coverage=(B,),
    issue_session_invoice=(B,),
    issue_package_invoice=(B,),
    issue_manual_invoice=(B,),
    issue_credit_note=(B,),
    transfer_to_patient=(B,),
    record_payment=(B,),
    record_deposit=(B,),
    apply_credit=(B,),
    refund=(B,),
    reverse_payment=(B,),
    close_day=(B,),
    # Overdue-invoice reminders are unattended work: the system user through the worker (or
    # `painclinic worker --once`), as follow-up reminders are.
    claim_overdue_reminders=(Role.SYSTEM,),
    record_overdue_outcomes=(Role.SYSTEM,),
    # --- pages that only read ---
    view_billing=(B, A),
    view_reports=(B, A),
    export_reports=(B, A),
    view_own=(Role.PATIENT,),
)
