from django.urls import path

from painclinic.web.drugregister import views
from painclinic.web.lib import converters  # noqa: F401 - registers <id:...>

app_name = "drugregister"
urlpatterns = [
    path("", views.home, name="home"),
    path("receive/", views.receive, name="receive"),
    path("count/", views.count, name="count"),
    path("discrepancies/", views.discrepancies, name="discrepancies"),
    path("discrepancies/<id:discrepancy_id>/", views.resolve, name="resolve"),
    path("entries/", views.entries, name="entries"),
    path("destroy/", views.destroy, name="destroy"),
    path("sessions/<id:session_id>/waste/", views.waste, name="waste"),
]
