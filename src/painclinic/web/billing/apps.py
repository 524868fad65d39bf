from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "painclinic.web.billing"
    label = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        from painclinic.web.billing import signals  # noqa: F401 - keeps invoice standings
