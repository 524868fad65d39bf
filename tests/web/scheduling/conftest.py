from __future__ import annotations

import pytest
from django.test import RequestFactory

from painclinic.web.accounts.models import Role
from tests.web.scheduling.factories import make_chair, make_plan


@pytest.fixture
def request_as():
    def build(user):
        request = RequestFactory().post("/scheduling/")
        request.user = user
        return request

    return build


@pytest.fixture
def desk(users, request_as):
    return request_as(users[Role.FRONT_DESK])


@pytest.fixture
def chair(db):
    return make_chair("Chair 1")


@pytest.fixture
def chair2(db):
    return make_chair("Chair 2")


@pytest.fixture
def plan(users, patient):
    return make_plan(patient, users[Role.PHYSICIAN], sessions=5, duration_min=240)
