from django.urls import path

from painclinic.web.patients import views

app_name = "patients"
urlpatterns = [
    path("", views.search, name="search"),
    path("new/", views.register, name="register"),
    path("<int:patient_id>/", views.detail, name="detail"),
    path("<int:patient_id>/edit/", views.edit, name="edit"),
    path("<int:patient_id>/history/", views.history, name="history"),
    path("<int:patient_id>/weights/new/", views.weight_add, name="weight_add"),
    path(
        "<int:patient_id>/weights/<int:weight_id>/correct/",
        views.weight_correct,
        name="weight_correct",
    ),
    path("<int:patient_id>/consents/new/", views.consent_add, name="consent_add"),
]
