import factory
from django_otp.plugins.otp_totp.models import TOTPDevice
from factory.django import DjangoModelFactory

from mint.tests.factories import UserFactory
from security.models import AuditEvent


class AuditEventFactory(DjangoModelFactory[AuditEvent]):
    class Meta:
        model = AuditEvent

    user = factory.SubFactory(UserFactory)
    action = AuditEvent.Action.LOGIN
    ip = "203.0.113.7"
    user_agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Safari/604.1"


class TOTPDeviceFactory(DjangoModelFactory[TOTPDevice]):
    """A confirmed authenticator app: the user has two-factor sign-in on."""

    class Meta:
        model = TOTPDevice

    user = factory.SubFactory(UserFactory)
    name = "Authenticator app"
    confirmed = True
