from django.urls import path

from painclinic.web.assessments import views
from painclinic.web.lib import converters  # noqa: F401 - registers <id:...>

app_name = "assessments"
urlpatterns = [
    path("patient/<id:patient_id>/", views.patient_assessments, name="patient"),
    path(
        "patient/<id:patient_id>/new/<slug:instrument>/",
        views.new_assessment,
        name="new",
    ),
    path(
        "patient/<id:patient_id>/result/<id:assessment_id>/",
        views.result,
        name="result",
    ),
    path(
        "patient/<id:patient_id>/result/<id:assessment_id>/correct/",
        views.correct_assessment,
        name="correct",
    ),
    path("patient/<id:patient_id>/eligibility/", views.eligibility, name="eligibility"),
    path(
        "patient/<id:patient_id>/eligibility/<id:decision_id>/",
        views.decision,
        name="decision",
    ),
    path(
        "patient/<id:patient_id>/eligibility/<id:decision_id>/cosign/",
        views.cosign_decision,
        name="cosign_decision",
    ),
    path(
        "patient/<id:patient_id>/checklist/<id:item_id>/resolve/",
        views.resolve_item,
        name="resolve_item",
    ),
]
