"""Object-level authorization: a portal user asking for someone else's data by id."""

from __future__ import annotations

from django.urls import reverse

from painclinic.web.accounts.models import Role
from painclinic.web.audit.models import Action, AuditEvent, Outcome


def denied_events():
    return AuditEvent.objects.filter(action=Action.ACCESS_DENIED, outcome=Outcome.DENIED)


def test_portal_user_cannot_open_another_patients_record(users, patient, own_patient, client_for):
    client = client_for(Role.PATIENT)
    before = denied_events().count()
    response = client.get(reverse("patients:detail", kwargs={"patient_id": patient.pk}))
    assert response.status_code in (403, 404)
    assert patient.legal_family_name.encode() not in response.content
    assert denied_events().count() == before + 1
    assert denied_events().order_by("-sequence").first().actor == users[Role.PATIENT]


def test_portal_user_cannot_open_another_patients_consent_document(
    users, patient, own_patient, client_for
):
    client = client_for(Role.PATIENT)
    someone_elses = patient.consents.first()
    before = denied_events().count()
    response = client.get(reverse("portal:consent", kwargs={"consent_id": someone_elses.pk}))
    assert response.status_code == 404
    assert b"KET-1" not in response.content
    event = denied_events().order_by("-sequence").first()
    assert denied_events().count() == before + 1
    assert event.detail["object_type"] == "consent"
    assert event.detail["object_id"] == str(someone_elses.pk)
    # Their own consent opens.
    mine = own_patient.consents.first()
    assert client.get(reverse("portal:consent", kwargs={"consent_id": mine.pk})).status_code == 200


def test_portal_access_log_shows_only_the_patients_own_entries(
    users, patient, own_patient, client_for
):
    client_for(Role.NURSE).get(reverse("patients:detail", kwargs={"patient_id": patient.pk}))
    client_for(Role.FRONT_DESK).get(
        reverse("patients:detail", kwargs={"patient_id": own_patient.pk})
    )
    response = client_for(Role.PATIENT).get(reverse("portal:access_log"))
    events = list(response.context["events"])
    assert events, "the front desk's view of the record should be listed"
    assert {e.patient_id for e in events} == {own_patient.pk}
    assert users[Role.FRONT_DESK].username in response.content.decode()
    assert users[Role.NURSE].username not in response.content.decode()


def test_staff_asking_for_a_patient_that_does_not_exist_gets_404_and_an_audit_row(client_for):
    before = denied_events().count()
    response = client_for(Role.NURSE).get(reverse("patients:detail", kwargs={"patient_id": 999999}))
    assert response.status_code == 404
    assert denied_events().count() == before + 1
