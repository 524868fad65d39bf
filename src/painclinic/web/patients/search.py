"""Patient search: one box that understands names, dates of birth, health numbers and phones."""

from __future__ import annotations

import datetime as dt
import re

from django.db.models import Q, QuerySet

from painclinic.web.patients.healthcard import normalise_health_number
from painclinic.web.patients.models import Patient, search_key

MAX_RESULTS = 50


def search_patients(query: str) -> QuerySet[Patient]:
    text = query.strip()
    base = Patient.objects.order_by("legal_family_name", "legal_given_name", "id")
    if not text:
        return base.none()
    try:
        born = dt.date.fromisoformat(text)
    except ValueError:
        born = None
    if born is not None:
        return base.filter(date_of_birth=born)
    digits = normalise_health_number(text)
    digits = re.sub(r"[()+.]", "", digits)
    if digits.isdigit():
        by_number = Q(phone_digits__endswith=digits) if len(digits) >= 4 else Q(pk__in=[])
        if len(digits) == 10:
            by_number |= Q(health_card_number=digits)
        return base.filter(by_number)
    condition = Q()
    for token in search_key(text.replace(",", " ")).split():
        condition &= (
            _prefix("family_name_key", token)
            | _prefix("given_name_key", token)
            | _prefix("preferred_name_key", token)
        )
    return base.filter(condition)


def _prefix(field: str, token: str) -> Q:
    """``field`` starts with ``token``, as a range so both SQLite and PostgreSQL use the index."""
    return Q(**{f"{field}__gte": token, f"{field}__lt": token + "\U0010ffff"})
