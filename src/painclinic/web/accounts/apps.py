from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "painclinic.web.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from painclinic.web.accounts import signals  # noqa: F401 - connects the login audit
