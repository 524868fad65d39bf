from django.urls import path

from painclinic.web.assessments import views

app_name = "assessments"
urlpatterns = [
    path("patient/<int:patient_id>/", views.patient_assessments, name="patient"),
    path(
        "patient/<int:patient_id>/new/<slug:instrument>/",
        views.new_assessment,
        name="new",
    ),
    path(
        "patient/<int:patient_id>/result/<int:assessment_id>/",
        views.result,
        name="result",
    ),
    path(
        "patient/<int:patient_id>/result/<int:assessment_id>/correct/",
        views.correct_assessment,
        name="correct",
    ),
    path("patient/<int:patient_id>/eligibility/", views.eligibility, name="eligibility"),
    path(
        "patient/<int:patient_id>/eligibility/<int:decision_id>/",
        views.decision,
        name="decision",
    ),
    path(
        "patient/<int:patient_id>/checklist/<int:item_id>/resolve/",
        views.resolve_item,
        name="resolve_item",
    ),
]
