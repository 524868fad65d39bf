from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "painclinic.web.billing"
    label = "billing"
    verbose_name = "Billing"
