"""Pages: role matrix, forms generated from the templates, results, alerts, IDOR."""

from __future__ import annotations

import pytest
from django.urls import reverse

from painclinic import clinical
from painclinic.web.accounts.models import Role
from painclinic.web.assessments import services
from painclinic.web.assessments.forms import InstrumentForm, field_name
from painclinic.web.assessments.models import FORM_INSTRUMENTS, Assessment
from painclinic.web.audit.models import Action, AuditEvent, Outcome
from tests.conftest import make_patient
from tests.web.assessments.conftest import budapest_met, clean_entry

P, N, F, B, A, T = (
    Role.PHYSICIAN,
    Role.NURSE,
    Role.FRONT_DESK,
    Role.BILLING,
    Role.CLINIC_ADMIN,
    Role.PATIENT,
)

URL_MATRIX: dict[str, set[Role]] = {
    "assessments:patient": {P, N},
    "assessments:new": {P, N},
    "assessments:result": {P, N},
    "assessments:correct": {P, N},
    "assessments:eligibility": {P},
    "assessments:decision": {P, N},
    "assessments:resolve_item": {P, N},
    # POST from the decision page; a GET is sent back to that page.
    "assessments:cosign_decision": {P},
}


@pytest.fixture
def recorded(patient, request_as):
    """One Budapest assessment, one ketamine decision with a checklist item."""
    assessment = services.do_record_assessment(request_as(), patient, "budapest", budapest_met())
    entry = clean_entry(pregnancy="unknown")
    facts, _ = services.build_facts(patient, entry)
    seen = services.evaluate(facts).to_dict()["ketamine"]["status"]
    decision = services.do_record_eligibility(
        request_as(), patient, entry, [services.DrugDecision("ketamine", "accept", "", "", seen)]
    )[0]
    item = decision.checklist_items.get()
    return {"assessment": assessment, "decision": decision, "item": item}


def url_for(name: str, patient, recorded) -> str:
    kwargs = {"patient_id": patient.pk}
    if name == "assessments:new":
        kwargs["instrument"] = "nrs"
    if name in ("assessments:result", "assessments:correct"):
        kwargs["assessment_id"] = recorded["assessment"].pk
    if name in ("assessments:decision", "assessments:cosign_decision"):
        kwargs["decision_id"] = recorded["decision"].pk
    if name == "assessments:resolve_item":
        kwargs["item_id"] = recorded["item"].pk
    return reverse(name, kwargs=kwargs)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_every_page_opens_for_exactly_the_matrix_roles(role, patient, recorded, client_for):
    client = client_for(role)
    for name, allowed in URL_MATRIX.items():
        response = client.get(url_for(name, patient, recorded))
        # The co-signature is posted from the decision page; a GET is sent back there.
        opens = 302 if name == "assessments:cosign_decision" else 200
        expected = opens if role in allowed else 403
        assert response.status_code == expected, (name, role, response.status_code)


def test_anonymous_visitors_are_sent_to_login(client, patient, recorded):
    for name in URL_MATRIX:
        response = client.get(url_for(name, patient, recorded))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def test_reading_the_patient_page_is_audited(users, patient, client_for):
    client = client_for(N)
    before = AuditEvent.objects.count()
    client.get(reverse("assessments:patient", kwargs={"patient_id": patient.pk}))
    event = AuditEvent.objects.order_by("-sequence").first()
    assert AuditEvent.objects.count() == before + 1
    assert event.action == Action.VIEW and event.patient == patient
    assert event.actor == users[N] and event.detail["area"] == "assessment"


# --- forms generated from the core's templates ----------------------------------------------


@pytest.mark.parametrize("instrument", FORM_INSTRUMENTS)
def test_the_form_has_one_field_per_template_item(instrument):
    form = InstrumentForm(instrument=instrument)
    keys = [item.key for item in clinical.template(instrument).items]
    assert [field_name(k) for k in keys] == list(form.fields)


@pytest.mark.parametrize("instrument", FORM_INSTRUMENTS)
def test_each_form_page_renders(instrument, patient, client_for):
    url = reverse("assessments:new", kwargs={"patient_id": patient.pk, "instrument": instrument})
    response = client_for(N).get(url)
    assert response.status_code == 200
    assert clinical.template(instrument).title.encode() in response.content


def test_an_unknown_instrument_is_404(patient, client_for):
    url = reverse("assessments:new", kwargs={"patient_id": patient.pk, "instrument": "rass"})
    assert client_for(N).get(url).status_code == 404


def test_checkboxes_for_yes_no_and_radios_for_0_to_3_scales():
    budapest = InstrumentForm(instrument="budapest")
    assert budapest["symptoms_sensory_allodynia"].widget_type == "checkbox"
    assert budapest["variant"].widget_type == "radioselect"
    phq9 = InstrumentForm(instrument="phq9")
    field = phq9.fields["items_8"]
    assert phq9["items_8"].widget_type == "radioselect"
    assert [c[0] for c in field.choices] == ["0", "1", "2", "3"]
    assert "Nearly every day" in field.choices[3][1]
    assert field.label.startswith("9. Thoughts that you would be better off dead")
    acr = InstrumentForm(instrument="acr2016")
    assert [c[0] for c in acr.fields["fatigue"].choices] == ["0", "1", "2", "3"]
    bpi = InstrumentForm(instrument="bpi")
    assert bpi.fields["severity_worst"].required is False  # null allowed: "Not answered"
    assert [c[0] for c in bpi.fields["relief_percent"].choices][:3] == ["", "0", "10"]


def phq9_post(item9: int, others: int = 1) -> dict[str, str]:
    data = {f"items_{i}": str(others) for i in range(8)}
    data["items_8"] = str(item9)
    return data


def post_new(client, patient, instrument, data):
    url = reverse("assessments:new", kwargs={"patient_id": patient.pk, "instrument": instrument})
    return client.post(url, data)


def test_a_phq9_is_scored_stored_and_shown(patient, users, client_for):
    client = client_for(N)
    response = post_new(client, patient, "phq9", phq9_post(0, others=2))
    assert response.status_code == 302
    stored = Assessment.objects.get()
    assert stored.answers == {"items": [2] * 8 + [0]}
    assert stored.score == 16 and stored.band == "moderately_severe" and stored.met is True
    assert stored.completed_by == users[N] and stored.patient == patient
    event = AuditEvent.objects.filter(action=Action.CREATE).order_by("-sequence").first()
    assert event.object_type == "assessment" and event.detail["result"]["score"] == 16
    page = client.get(response["Location"]).content.decode()
    assert "Moderately severe" in page and "total 16/27" in page


@pytest.mark.parametrize(("item9", "alert"), [(0, False), (1, True), (3, True)])
def test_self_harm_alert_shows_only_when_item_9_is_above_0(item9, alert, patient, client_for):
    client = client_for(P)
    response = post_new(client, patient, "phq9", phq9_post(item9, others=0))
    result_page = client.get(response["Location"]).content.decode()
    patient_page = client.get(
        reverse("assessments:patient", kwargs={"patient_id": patient.pk})
    ).content.decode()
    for page in (result_page, patient_page):
        assert ("immediate follow-up needed" in page) is alert
        assert ('class="alert-danger"' in page) is alert


def test_a_later_phq9_without_item_9_clears_the_patient_alert(patient, client_for):
    client = client_for(P)
    post_new(client, patient, "phq9", phq9_post(2))
    post_new(client, patient, "phq9", phq9_post(0))
    page = client.get(reverse("assessments:patient", kwargs={"patient_id": patient.pk}))
    assert b'class="alert-danger"' not in page.content
    assert b"self-harm risk" in page.content  # the earlier one stays marked in the history


def test_a_missing_answer_is_named_and_nothing_saved(patient, client_for):
    client = client_for(N)
    data = phq9_post(0)
    del data["items_4"]
    before = AuditEvent.objects.count()
    response = post_new(client, patient, "phq9", data)
    assert response.status_code == 200
    assert "items_4" in response.context["form"].errors
    assert Assessment.objects.count() == 0
    assert AuditEvent.objects.count() == before + 1  # only the read of the patient
    assert not AuditEvent.objects.filter(action=Action.CREATE).exists()


@pytest.mark.parametrize(("value"), ["4", "-1", "x"])
def test_an_out_of_range_answer_is_refused(value, patient, client_for):
    data = phq9_post(0)
    data["items_2"] = value
    response = post_new(client_for(N), patient, "phq9", data)
    assert "items_2" in response.context["form"].errors
    assert Assessment.objects.count() == 0


def test_a_core_input_error_lands_on_the_named_item(patient):
    form = InstrumentForm({"score": "5"}, instrument="nrs")
    assert form.is_valid()
    form.add_error(form.error_field("score"), "bad")
    assert "score" in form.errors
    assert form.error_field("not.an.item") is None


def test_a_core_refusal_after_the_form_is_shown_on_the_item(patient, client_for, monkeypatch):
    def refuse(name, answers):
        raise clinical.ClinicalInputError("items[3]", "must be between 0 and 3, got 9")

    monkeypatch.setattr("painclinic.web.assessments.forms.clinical.score", refuse)
    response = post_new(client_for(N), patient, "phq9", phq9_post(0))
    assert response.status_code == 200
    assert "must be between 0 and 3" in " ".join(response.context["form"].errors["items_3"])
    assert Assessment.objects.count() == 0


def budapest_post(met: bool = True) -> dict[str, str]:
    data = {"variant": "clinical", "disproportionate_pain": "on"}
    if met:
        data.update(
            {
                "symptoms_sensory_allodynia": "on",
                "symptoms_vasomotor_temperature_asymmetry": "on",
                "symptoms_sudomotor_edema_edema": "on",
                "signs_sensory_allodynia_light_touch": "on",
                "signs_vasomotor_skin_color_change": "on",
            }
        )
    return data


@pytest.mark.parametrize(("met", "shown"), [(True, "Met"), (False, "Not met")])
def test_budapest_from_the_form(met, shown, patient, client_for):
    client = client_for(P)
    response = post_new(client, patient, "budapest", budapest_post(met))
    stored = Assessment.objects.get()
    assert stored.met is met
    assert stored.answers["symptoms"]["sensory"]["allodynia"] is met
    assert stored.answers["symptoms"]["sensory"]["hyperesthesia"] is False
    page = client.get(response["Location"]).content.decode()
    assert f">{shown}<" in page
    assert "B symptoms in" in page


def test_research_variant_needs_all_four_symptom_categories(patient, client_for):
    data = budapest_post(True)
    data["variant"] = "research"
    post_new(client_for(P), patient, "budapest", data)
    assert Assessment.objects.get().met is False


def test_nrs_trend_lists_scores_oldest_first(patient, client_for):
    client = client_for(N)
    for value in (8, 6, 3):
        post_new(client, patient, "nrs", {"score": str(value)})
    response = client.get(reverse("assessments:patient", kwargs={"patient_id": patient.pk}))
    assert [a.result["score"] for a in response.context["nrs_trend"]] == [8, 6, 3]


# --- corrections ----------------------------------------------------------------------------


def correct_url(patient, assessment):
    return reverse(
        "assessments:correct", kwargs={"patient_id": patient.pk, "assessment_id": assessment.pk}
    )


def test_a_correction_supersedes_and_keeps_the_original(patient, client_for):
    client = client_for(N)
    post_new(client, patient, "nrs", {"score": "9"})
    original = Assessment.objects.get()
    response = client.post(
        correct_url(patient, original), {"score": "6", "correction_reason": "misheard"}
    )
    assert response.status_code == 302
    correction = Assessment.objects.exclude(pk=original.pk).get()
    assert correction.supersedes == original and correction.score == 6
    assert Assessment.objects.get(pk=original.pk).score == 9
    assert list(services.current_assessments(patient)) == [correction]
    event = AuditEvent.objects.filter(action=Action.AMEND).get()
    assert event.detail["supersedes"] == original.pk and event.detail["reason"] == "misheard"
    page = client.get(reverse("assessments:patient", kwargs={"patient_id": patient.pk}))
    assert original.pk in page.context["superseded_ids"]
    # The original cannot be corrected twice.
    again = client.post(correct_url(patient, original), {"score": "5", "correction_reason": "x"})
    assert again.status_code == 302
    assert Assessment.objects.count() == 2


def test_a_correction_needs_a_reason(patient, client_for):
    client = client_for(N)
    post_new(client, patient, "nrs", {"score": "9"})
    original = Assessment.objects.get()
    response = client.post(correct_url(patient, original), {"score": "6", "correction_reason": " "})
    assert "correction_reason" in response.context["form"].errors
    assert Assessment.objects.count() == 1


# --- IDOR -----------------------------------------------------------------------------------


def denied():
    return AuditEvent.objects.filter(action=Action.ACCESS_DENIED, outcome=Outcome.DENIED)


@pytest.mark.parametrize(
    ("name", "key", "id_kwarg"),
    [
        ("assessments:result", "assessment", "assessment_id"),
        ("assessments:correct", "assessment", "assessment_id"),
        ("assessments:decision", "decision", "decision_id"),
        ("assessments:resolve_item", "item", "item_id"),
    ],
)
def test_another_patients_object_by_id_is_404_and_audited(
    name, key, id_kwarg, patient, recorded, client_for
):
    other = make_patient("Grace", "Hopper")
    client = client_for(P)
    before = denied().count()
    url = reverse(name, kwargs={"patient_id": other.pk, id_kwarg: recorded[key].pk})
    response = client.get(url)
    assert response.status_code == 404
    assert patient.legal_family_name.encode() not in response.content
    assert denied().count() == before + 1
    event = denied().order_by("-sequence").first()
    assert event.detail["object_id"] == str(recorded[key].pk)
    assert event.patient == other


def test_a_patient_that_does_not_exist_is_404_and_audited(client_for):
    client = client_for(N)
    before = denied().count()
    url = reverse("assessments:patient", kwargs={"patient_id": 999999})
    assert client.get(url).status_code == 404
    assert denied().count() == before + 1


@pytest.mark.parametrize(("total", "shown"), [(9, "Negative (total below 10)"), (10, "Positive")])
def test_phq9_screen_display_turns_at_10(total, shown, patient, client_for):
    client = client_for(N)
    items = [3, 3, 3, 0, 0, 0, 0, 0, 0]
    items[3] = total - 9
    data = {f"items_{i}": str(v) for i, v in enumerate(items)}
    response = post_new(client, patient, "phq9", data)
    page = client.get(response["Location"]).content.decode()
    assert shown in page
    assert "Criteria" not in page.split("Answers as recorded")[0].split("Reasons")[0]


def test_answers_show_the_wording_of_the_chosen_option(patient, client_for):
    client = client_for(N)
    response = post_new(client, patient, "phq9", phq9_post(0, others=2))
    page = client.get(response["Location"]).content.decode()
    assert "2 · More than half the days" in page and "0 · Not at all" in page


def test_acr_answers_are_grouped_by_region(patient, client_for, request_as):
    answers = clinical.template("acr2016").skeleton
    answers = {k: (dict(v) if isinstance(v, dict) else v) for k, v in answers.items()}
    answers["painful_areas"] = {r: dict(a) for r, a in answers["painful_areas"].items()}
    answers["painful_areas"]["left_upper"]["jaw"] = True
    a = services.do_record_assessment(request_as(), patient, "acr2016", answers)
    url = reverse("assessments:result", kwargs={"patient_id": patient.pk, "assessment_id": a.pk})
    groups = dict(client_for(P).get(url).context["answers"])
    assert ("Jaw", "Yes") in groups["Pain in the past week · Left upper"]
    assert ("Jaw", "No") in groups["Pain in the past week · Right upper"]


def test_the_patient_page_needs_the_same_queries_whatever_the_history(
    patient, client_for, request_as
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(N)
    url = reverse("assessments:patient", kwargs={"patient_id": patient.pk})
    services.do_record_assessment(request_as(), patient, "nrs", {"score": 5})
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for value in range(10):
        services.do_record_assessment(request_as(N), patient, "nrs", {"score": value})
        services.do_record_assessment(request_as(), patient, "phq9", {"items": [1] * 9})
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


def test_correcting_a_mistyped_item_9_clears_the_patient_alert(patient, client_for):
    client = client_for(P)
    post_new(client, patient, "phq9", phq9_post(2, others=0))
    original = Assessment.objects.get()
    data = {**phq9_post(0, others=0), "correction_reason": "item 9 keyed on the wrong row"}
    assert client.post(correct_url(patient, original), data).status_code == 302
    page = client.get(reverse("assessments:patient", kwargs={"patient_id": patient.pk}))
    assert b'class="alert-danger"' not in page.content
