from django.urls import path

from painclinic.web.lib import converters  # noqa: F401 - registers <id:...>
from painclinic.web.patients import portal_views

app_name = "portal"
urlpatterns = [
    path("", portal_views.home, name="home"),
    path("consents/<id:consent_id>/", portal_views.consent_detail, name="consent"),
    path("access-log/", portal_views.access_log, name="access_log"),
]
