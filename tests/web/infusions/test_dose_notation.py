"""Safety checklist #32 on the infusion chart: doses on a running chart follow ISMP notation."""

from __future__ import annotations

from django.urls import reverse

from painclinic.web.accounts.models import Role
from tests.web.infusions.conftest import run_to
from tests.web.test_dose_notation import assert_ismp, visible_text


def test_running_infusion_chart_uses_ismp_notation(session, nurse, nurse2, client_for):
    run_to(session, "running", nurse, nurse2)
    url = reverse("infusions:session", kwargs={"session_id": session.pk})
    assert_ismp(visible_text(client_for(Role.NURSE).get(url).content), url)
