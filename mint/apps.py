from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MintConfig(AppConfig):
    name = "mint"
    verbose_name = "Mint"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
        from .schedules import schedules_ensure

        post_migrate.connect(schedules_ensure, sender=self, dispatch_uid="mint.schedules_ensure")
