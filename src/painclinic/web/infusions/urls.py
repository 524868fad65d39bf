from django.urls import path

from painclinic.web.infusions import views

app_name = "infusions"
urlpatterns = [
    path("open/<int:booking_id>/", views.open_session, name="open"),
    path("serious-events/", views.serious_events, name="serious_events"),
    path(
        "serious-events/to-report/",
        views.serious_events_to_report,
        name="serious_events_to_report",
    ),
    path("adverse-events/<int:event_id>/report/", views.mark_reported, name="mark_reported"),
    path("<int:session_id>/", views.session_chart, name="session"),
    path(
        "<int:session_id>/concentration.svg",
        views.concentration_chart,
        name="concentration_chart",
    ),
    path("<int:session_id>/checklist/", views.checklist, name="checklist"),
    path("<int:session_id>/prepare/", views.prepare, name="prepare"),
    path("<int:session_id>/double-check/", views.double_check, name="double_check"),
    path("<int:session_id>/start/", views.start, name="start"),
    path("<int:session_id>/pause/", views.pause, name="pause"),
    path("<int:session_id>/resume/", views.resume, name="resume"),
    path("<int:session_id>/rate/", views.rate_change, name="rate_change"),
    path("<int:session_id>/stop/", views.stop, name="stop"),
    path("<int:session_id>/observe/", views.observe, name="observe"),
    path(
        "<int:session_id>/alerts/<int:alert_id>/acknowledge/",
        views.acknowledge,
        name="acknowledge",
    ),
    path("<int:session_id>/adverse-event/", views.adverse_event, name="adverse_event"),
    path("<int:session_id>/discharge/", views.discharge, name="discharge"),
    path("<int:session_id>/note/", views.note, name="note"),
    path("<int:session_id>/note/amend/", views.amend, name="amend"),
    path("<int:session_id>/waste/", views.waste_remainder, name="waste"),
    path("<int:session_id>/cancel/", views.cancel, name="cancel"),
]
