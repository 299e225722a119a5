from django.apps import AppConfig


class MintConfig(AppConfig):
    name = "mint"
    verbose_name = "Mint"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
