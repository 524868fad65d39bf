from django.apps import AppConfig


class TreatmentsConfig(AppConfig):
    name = "painclinic.web.treatments"
    label = "treatments"
    verbose_name = "Treatments"
