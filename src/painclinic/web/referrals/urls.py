from django.urls import path

import painclinic.web.lib.converters  # noqa: F401  (registers <id:...>)
from painclinic.web.referrals import views

app_name = "referrals"

urlpatterns = [
    # Public (no sign-in): short addresses a clinic can print on a letter or a poster.
    path("refer/", views.physician_form, name="physician_form"),
    path("refer/thanks/", views.physician_thanks, name="physician_thanks"),
    path("ask-to-be-seen/", views.self_form, name="self_form"),
    path("ask-to-be-seen/thanks/", views.self_thanks, name="self_thanks"),
    # Staff triage.
    path("referrals/", views.queue, name="queue"),
    path("referrals/<id:referral_id>/", views.detail, name="detail"),
    path("referrals/<id:referral_id>/letter/", views.letter, name="letter"),
]
