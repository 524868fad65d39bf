from django.apps import AppConfig


class PublicConfig(AppConfig):
    name = "painclinic.web.public"
    label = "public"
    verbose_name = "Public patient information"
