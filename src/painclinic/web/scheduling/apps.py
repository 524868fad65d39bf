from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "painclinic.web.scheduling"
    label = "scheduling"
    verbose_name = "Scheduling"
