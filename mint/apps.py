from django.apps import AppConfig


class MintConfig(AppConfig):
    name = "mint"
    verbose_name = "Mint"

    def ready(self) -> None:
        from . import authentication, checks  # noqa: F401  (registers the token signals and system checks)
