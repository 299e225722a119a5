from django.apps import AppConfig


class TransactionsConfig(AppConfig):
    name = "transactions"

    def ready(self) -> None:
        from . import signals  # noqa: F401
