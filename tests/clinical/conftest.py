"""Clinical tests run against the packaged policy files unless a test overrides them."""

from __future__ import annotations

import os

import pytest

from painclinic.clinical.policy import POLICY_DIR_ENV

# Some test modules load the policy files at import time, before fixtures run.
os.environ.pop(POLICY_DIR_ENV, None)


@pytest.fixture(autouse=True)
def packaged_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POLICY_DIR_ENV, raising=False)
