from django.urls import path

from painclinic.web.lib import converters  # noqa: F401 - registers <id:...>
from painclinic.web.outcomes import views

app_name = "outcomes"
urlpatterns = [
    path("", views.dashboard_page, name="dashboard"),
    path("export.csv", views.export_csv, name="export"),
    path("patient/<id:patient_id>/", views.patient, name="patient"),
]
