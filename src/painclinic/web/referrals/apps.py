from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "painclinic.web.referrals"
    label = "referrals"
    verbose_name = "Referrals"
