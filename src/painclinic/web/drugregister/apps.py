from django.apps import AppConfig


class DrugregisterConfig(AppConfig):
    name = "painclinic.web.drugregister"
    label = "drugregister"
    verbose_name = "Drug register"
