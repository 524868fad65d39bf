from django.urls import path

from painclinic.web.lib import converters  # noqa: F401 - registers <id:...>
from painclinic.web.treatments import views

app_name = "treatments"
urlpatterns = [
    path("patient/<id:patient_id>/", views.patient, name="patient"),
    path("patient/<id:patient_id>/consents/new/", views.consent_new, name="consent_new"),
    path("patient/<id:patient_id>/plans/new/", views.plan_new, name="plan_new"),
    path("consents/<id:consent_id>/", views.consent, name="consent"),
    path("consents/<id:consent_id>/withdraw/", views.consent_withdraw, name="consent_withdraw"),
    path("plans/<id:plan_id>/", views.plan, name="plan"),
    path("plans/<id:plan_id>/cosign/", views.plan_cosign, name="plan_cosign"),
    path("plans/<id:plan_id>/cancel/", views.plan_cancel, name="plan_cancel"),
    path("fees/", views.fees, name="fees"),
    path("fees/<id:item_id>/deactivate/", views.fee_deactivate, name="fee_deactivate"),
]
