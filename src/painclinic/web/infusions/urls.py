from django.urls import path

from painclinic.web.infusions import views
from painclinic.web.lib import converters  # noqa: F401 - registers <id:...>

app_name = "infusions"
urlpatterns = [
    path("open/<id:booking_id>/", views.open_session, name="open"),
    path("open/<id:booking_id>/another-day/", views.open_session_off_day, name="open_off_day"),
    path("serious-events/", views.serious_events, name="serious_events"),
    path(
        "serious-events/to-report/",
        views.serious_events_to_report,
        name="serious_events_to_report",
    ),
    path("adverse-events/<id:event_id>/report/", views.mark_reported, name="mark_reported"),
    path("<id:session_id>/", views.session_chart, name="session"),
    path(
        "<id:session_id>/concentration.svg",
        views.concentration_chart,
        name="concentration_chart",
    ),
    path("<id:session_id>/checklist/", views.checklist, name="checklist"),
    path("<id:session_id>/prepare/", views.prepare, name="prepare"),
    path("<id:session_id>/double-check/", views.double_check, name="double_check"),
    path("<id:session_id>/start/", views.start, name="start"),
    path("<id:session_id>/pause/", views.pause, name="pause"),
    path("<id:session_id>/resume/", views.resume, name="resume"),
    path("<id:session_id>/rate/", views.rate_change, name="rate_change"),
    path("<id:session_id>/stop/", views.stop, name="stop"),
    path("<id:session_id>/observe/", views.observe, name="observe"),
    path(
        "<id:session_id>/alerts/<id:alert_id>/acknowledge/",
        views.acknowledge,
        name="acknowledge",
    ),
    path("<id:session_id>/adverse-event/", views.adverse_event, name="adverse_event"),
    path("<id:session_id>/discharge/", views.discharge, name="discharge"),
    path("<id:session_id>/note/", views.note, name="note"),
    path("<id:session_id>/note/amend/", views.amend, name="amend"),
    path("<id:session_id>/waste/", views.waste_remainder, name="waste"),
    path("<id:session_id>/cancel/", views.cancel, name="cancel"),
]
