from django.urls import path

from painclinic.web.treatments import views

app_name = "treatments"
urlpatterns = [
    path("patient/<int:patient_id>/", views.patient, name="patient"),
    path("patient/<int:patient_id>/consents/new/", views.consent_new, name="consent_new"),
    path("patient/<int:patient_id>/plans/new/", views.plan_new, name="plan_new"),
    path("consents/<int:consent_id>/", views.consent, name="consent"),
    path("consents/<int:consent_id>/withdraw/", views.consent_withdraw, name="consent_withdraw"),
    path("plans/<int:plan_id>/", views.plan, name="plan"),
    path("plans/<int:plan_id>/cosign/", views.plan_cosign, name="plan_cosign"),
    path("plans/<int:plan_id>/cancel/", views.plan_cancel, name="plan_cancel"),
    path("fees/", views.fees, name="fees"),
    path("fees/<int:item_id>/deactivate/", views.fee_deactivate, name="fee_deactivate"),
]
