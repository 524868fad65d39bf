from django.apps import AppConfig


class InfusionsConfig(AppConfig):
    name = "painclinic.web.infusions"
    label = "infusions"
    verbose_name = "Infusions"
