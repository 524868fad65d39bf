from django.urls import path

from painclinic.web.lib import converters  # noqa: F401 - registers <id:...>
from painclinic.web.patients import views

app_name = "patients"
urlpatterns = [
    path("", views.search, name="search"),
    path("new/", views.register, name="register"),
    path("<id:patient_id>/", views.detail, name="detail"),
    path("<id:patient_id>/edit/", views.edit, name="edit"),
    path("<id:patient_id>/history/", views.history, name="history"),
    path("<id:patient_id>/weights/new/", views.weight_add, name="weight_add"),
    path(
        "<id:patient_id>/weights/<id:weight_id>/correct/",
        views.weight_correct,
        name="weight_correct",
    ),
    path("<id:patient_id>/consents/new/", views.consent_add, name="consent_add"),
]
