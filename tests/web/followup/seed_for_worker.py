"""Seed a fresh database with N followed patients whose baseline questionnaire is open today
(``python -m tests.web.followup.seed_for_worker N``; used by the worker-crash test)."""

from __future__ import annotations

import datetime as dt
import os
import sys


def main(count: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "painclinic.web.settings")
    import django

    django.setup()
    from painclinic.web.accounts.models import Role, User
    from painclinic.web.lib.clinictime import local_today
    from painclinic.web.patients.models import Patient, SexAtBirth
    from tests.web.followup.factories import granted, series

    physician = User.objects.create_user("dr_seed", password=None, role=Role.PHYSICIAN)
    today = local_today()
    days = [today + dt.timedelta(days=5), today + dt.timedelta(days=7)]
    for number in range(count):
        patient = Patient.objects.create(
            legal_given_name=f"Patient{number}",
            legal_family_name="Followed",
            date_of_birth=dt.date(1970, 1, 1),
            sex_at_birth=SexAtBirth.FEMALE,
            email=f"patient{number}@example.org",
        )
        granted(patient, today, physician)
        series(patient, physician, days, chair_name=f"Chair {number}")


if __name__ == "__main__":
    main(int(sys.argv[1]))
