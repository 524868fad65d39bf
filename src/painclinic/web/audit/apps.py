from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "painclinic.web.audit"
    label = "audit"
    verbose_name = "Audit trail"
