from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "painclinic.web.assessments"
    label = "assessments"
    verbose_name = "Assessments"
