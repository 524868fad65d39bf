from django.apps import AppConfig


class FollowUpConfig(AppConfig):
    name = "painclinic.web.followup"
    label = "followup"
    verbose_name = "Follow-up"
