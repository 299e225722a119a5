from django.apps import AppConfig


class SecurityConfig(AppConfig):
    """Who may sign in and from where: login limits, two-factor, API tokens and the audit log."""

    name = "security"

    def ready(self) -> None:
        # authentication: the signals that drop cached API tokens; signals: sign-ins into the audit log.
        from . import authentication, signals  # noqa: F401
