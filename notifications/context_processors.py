from . import selectors


def unread_notifications(request) -> dict[str, int]:
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"unread_notifications": selectors.notification_unread_count(user=request.user)}
