"""The single-use questionnaire link (``/f/<token>/``) and its pages (no sign-in)."""

from django.urls import path

from painclinic.web.followup import views
from painclinic.web.lib import converters  # noqa: F401 - registers <id:...>

app_name = "link"
urlpatterns = [
    path("question/", views.link_question, name="question"),
    path("review/", views.link_review, name="review"),
    path("done/", views.link_done, name="done"),
    path("<slug:token>/", views.link_open, name="open"),
]
