from django.urls import include, path

from painclinic.web.lib import converters  # noqa: F401 - registers <id:...>
from painclinic.web.patients import portal_views

app_name = "portal"
urlpatterns = [
    path("", portal_views.home, name="home"),
    path("consents/<id:consent_id>/", portal_views.consent_detail, name="consent"),
    path("access-log/", portal_views.access_log, name="access_log"),
    # My invoices, receipts and yearly statements (the billing app's portal pages).
    path("invoices/", include("painclinic.web.billing.portal_urls")),
]
