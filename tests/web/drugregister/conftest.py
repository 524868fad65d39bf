from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from painclinic.web.accounts.models import Role
from tests.conftest import actor_as, make_user
from tests.web.scheduling.factories import make_booking, make_chair, make_plan, make_session


@pytest.fixture
def request_as():
    return actor_as


@pytest.fixture
def second_nurse(db):
    return make_user(Role.NURSE, "rn_second")


@pytest.fixture
def session(users, patient):
    plan = make_plan(patient, users[Role.PHYSICIAN], sessions=1)
    chair = make_chair()
    day = timezone.localdate() + dt.timedelta(days=1)
    booking = make_booking(patient, chair, users[Role.FRONT_DESK], day, plan=plan)
    return make_session(booking)
