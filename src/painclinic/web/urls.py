from django.urls import include, path

from painclinic.web.accounts import views as account_views
from painclinic.web.followup.urls import link_urlpatterns
from painclinic.web.i18n.views import set_language
from painclinic.web.public import views as public_views

urlpatterns = [
    # A visitor who is not signed in reads the clinic's public pages; a signed-in user goes home.
    path("", public_views.front_door(account_views.home), name="home"),
    path("info/", include("painclinic.web.public.urls")),
    path("healthz", account_views.healthz, name="healthz"),
    # The language switch (English / Français), remembered in the language cookie.
    path("i18n/setlang/", set_language, name="set_language"),
    path("accounts/", include("painclinic.web.accounts.urls")),
    path("patients/", include("painclinic.web.patients.urls")),
    path("portal/", include("painclinic.web.patients.portal_urls")),
    path("audit/", include("painclinic.web.audit.urls")),
    path("assessments/", include("painclinic.web.assessments.urls")),
    path("treatments/", include("painclinic.web.treatments.urls")),
    path("scheduling/", include("painclinic.web.scheduling.urls")),
    path("infusions/", include("painclinic.web.infusions.urls")),
    path("drug-register/", include("painclinic.web.drugregister.urls")),
    path("outcomes/", include("painclinic.web.outcomes.urls")),
    path("followup/", include("painclinic.web.followup.urls")),
    # A reminder's single-use questionnaire link: short, it is typed from a phone's mail app.
    path("f/", include((link_urlpatterns, "link"))),
    path("worklist/", include("painclinic.web.worklist.urls")),
    path("billing/", include("painclinic.web.billing.urls")),
    # Online referral (public: /refer/, /ask-to-be-seen/) and the staff triage queue (/referrals/).
    path("", include("painclinic.web.referrals.urls")),
]

handler403 = "painclinic.web.errors.forbidden"
handler404 = "painclinic.web.errors.not_found"
