from django.urls import path

from painclinic.web.drugregister import views

app_name = "drugregister"
urlpatterns = [
    path("", views.home, name="home"),
    path("receive/", views.receive, name="receive"),
    path("count/", views.count, name="count"),
    path("discrepancies/", views.discrepancies, name="discrepancies"),
    path("discrepancies/<int:discrepancy_id>/", views.resolve, name="resolve"),
    path("entries/", views.entries, name="entries"),
    path("destroy/", views.destroy, name="destroy"),
    path("sessions/<int:session_id>/waste/", views.waste, name="waste"),
]
