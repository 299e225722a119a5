from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _load_defaults(sender, using="default", **kwargs) -> None:
    from .services import defaults_load

    defaults_load(using=using)


class CategoriesConfig(AppConfig):
    name = "categories"

    def ready(self) -> None:
        # After every migrate (and every test flush): insert the default categories and
        # seed merchant map rows that are missing, never touching rows that exist.
        post_migrate.connect(_load_defaults, sender=self, dispatch_uid="categories.load_defaults")
