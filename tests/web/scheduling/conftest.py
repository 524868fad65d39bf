from __future__ import annotations

import pytest

from painclinic.web.accounts.models import Role
from tests.conftest import actor_as
from tests.web.scheduling.factories import make_chair, make_plan


@pytest.fixture
def request_as():
    return actor_as


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
