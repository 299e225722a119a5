from . import services


def notification_email_send(notification_id: int) -> bool:
    return services.notification_email_send(notification_id=notification_id)


def held_emails_send() -> int:
    return services.held_emails_send()
