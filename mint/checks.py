"""System checks for settings that only make sense together."""

from __future__ import annotations

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register


@register(Tags.compatibility)
def check_task_queue(app_configs, **kwargs) -> list[Error]:
    conf = settings.Q_CLUSTER
    if conf.get("orm") is None:
        return [Error("Q_CLUSTER must use the ORM broker: it redelivers tasks whose worker died.", id="mint.E001")]
    if conf["retry"] <= conf["timeout"]:
        return [
            Error(
                f"Q_CLUSTER retry ({conf['retry']}s) must exceed timeout ({conf['timeout']}s), "
                "or a task still running is handed to a second worker.",
                id="mint.E002",
            )
        ]
    return []


@register(Tags.security)
def check_credentials_keys(app_configs, **kwargs) -> list[Error]:
    errors = []
    for position, key in enumerate(settings.CREDENTIALS_KEYS, start=1):
        try:
            Fernet(key)
        except ValueError:
            errors.append(
                Error(
                    f"CREDENTIALS_KEYS entry {position} is not a valid Fernet key (32 url-safe base64 bytes).",
                    id="mint.E003",
                )
            )
    return errors


NON_DELIVERING_EMAIL_BACKENDS = {
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
}


@register(Tags.security, deploy=True)
def check_production_modes(app_configs, **kwargs) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if settings.DEMO_MODE and not settings.DEBUG:
        messages.append(
            Error(
                "DEMO_MODE is on: the demo user has a public password and bank URLs may reach local addresses.",
                hint="Unset DEMO_MODE in production.",
                id="mint.E004",
            )
        )
    if settings.EMAIL_BACKEND in NON_DELIVERING_EMAIL_BACKENDS:
        messages.append(
            Warning(
                "Email is not delivered: budget alerts would be written locally, not sent.",
                hint="Set EMAIL_URL, for example smtp+tls://user:password@smtp.example.com:587.",
                id="mint.W001",
            )
        )
    return messages
