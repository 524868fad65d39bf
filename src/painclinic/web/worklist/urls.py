from django.urls import path

from painclinic.web.lib import converters  # noqa: F401 - registers <id:...>
from painclinic.web.worklist import views

app_name = "worklist"
urlpatterns = [
    path("", views.home, name="home"),
    path("today/", views.today, name="today"),
    path("tasks/<id:task_id>/", views.task, name="task"),
]
