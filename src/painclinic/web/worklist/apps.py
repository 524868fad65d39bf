from django.apps import AppConfig


class WorklistConfig(AppConfig):
    name = "painclinic.web.worklist"
    label = "worklist"
    verbose_name = "Clinician worklist"
