"""Demo fee schedule for the demo loader: ``load_fee_schedule()`` (safe to run again).

The amounts are DEMO VALUES, not real prices: a clinic sets its own fees.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from painclinic.web.lib.service import Actor
from painclinic.web.treatments.models import Drug, FeeBasis, FeeItem, TaxCategory
from painclinic.web.treatments.services import FeeItemInput, do_add_fee_item

DEMO_EFFECTIVE_FROM = dt.date(2026, 1, 1)

DEMO_FEES = [
    (
        "DEMO-PLAN",
        "Treatment planning and consent visit, uninsured (DEMO VALUE, not a real price)",
        25000,
        FeeBasis.PER_CONSULT,
        "",
    ),
    (
        "DEMO-KET-SESSION",
        "Ketamine infusion session: drug, supplies, nursing and monitoring "
        "(DEMO VALUE, not a real price)",
        45000,
        FeeBasis.PER_SESSION,
        Drug.KETAMINE,
    ),
    (
        "DEMO-LID-SESSION",
        "Lidocaine infusion session: drug, supplies, nursing and monitoring "
        "(DEMO VALUE, not a real price)",
        35000,
        FeeBasis.PER_SESSION,
        Drug.LIDOCAINE,
    ),
    (
        "DEMO-SUPPLIES",
        "Pump set, line and ECG electrodes per session (DEMO VALUE, not a real price)",
        2550,
        FeeBasis.PER_SESSION,
        "",
    ),
]


def load_fee_schedule(actor: Actor) -> int:
    """Add the demo fee items that are missing, as ``actor`` (a clinic admin); returns how many
    were added."""
    added = 0
    with transaction.atomic():
        for code, description, cents, basis, drug in DEMO_FEES:
            if FeeItem.objects.filter(code=code).exists():
                continue
            do_add_fee_item(
                actor,
                FeeItemInput(
                    code=code,
                    description=description,
                    amount_cents=cents,
                    basis=basis,
                    drug=drug,
                    # Health services (the infusions, the planning visit): HST-exempt.
                    tax_category=TaxCategory.EXEMPT_HEALTH,
                    effective_from=DEMO_EFFECTIVE_FROM,
                ),
            )
            added += 1
    return added
