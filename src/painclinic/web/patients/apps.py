from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "painclinic.web.patients"
    label = "patients"
    verbose_name = "Patients"
