from django.urls import path

from painclinic.web.followup import views
from painclinic.web.lib import converters  # noqa: F401 - registers <id:...>

app_name = "followup"
urlpatterns = [
    path("patient/<id:patient_id>/", views.patient_followup, name="patient"),
    path("<id:time_point_id>/", views.start, name="start"),
    path("<id:time_point_id>/question/<id:number>/", views.question, name="question"),
    path("<id:time_point_id>/review/", views.review, name="review"),
    path("<id:time_point_id>/done/", views.done, name="done"),
]

# The single-use questionnaire link (``/f/<token>/``) and its pages (no sign-in); included by
# the project's URLs under the ``link`` namespace.
link_urlpatterns = [
    path("question/", views.link_question, name="question"),
    path("review/", views.link_review, name="review"),
    path("done/", views.link_done, name="done"),
    path("<slug:token>/", views.link_open, name="open"),
]
