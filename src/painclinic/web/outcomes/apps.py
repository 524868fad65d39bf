from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "painclinic.web.outcomes"
    label = "outcomes"
    verbose_name = "Outcomes"

    def ready(self) -> None:
        from painclinic.web.outcomes import summary

        summary.connect()
