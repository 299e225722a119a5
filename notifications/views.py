from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt

from mint.http import AuthenticatedHttpRequest
from mint.models import User

from . import selectors, services
from .forms import NotificationPreferencesForm


@login_required
def notification_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    notifications = selectors.notification_list_for_user(user=request.user)[:100]
    return render(request, "notifications/notification_list.html", {"notifications": notifications})


@login_required
def notification_preferences(request: AuthenticatedHttpRequest) -> HttpResponse:
    preferences = services.notification_preferences_for(user=request.user)
    form = NotificationPreferencesForm(request.POST or None, instance=preferences)
    if request.method == "POST" and form.is_valid():
        services.notification_preferences_update(user=request.user, **form.cleaned_data)
        messages.success(request, "Your notification settings are saved.")
        return redirect("notifications:preferences")
    return render(request, "notifications/preferences.html", {"form": form})


@csrf_exempt  # mail clients' one-click unsubscribe (RFC 8058) posts without a session; the token is the proof
def email_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """The link in every email: a page with one button (GET changes nothing, so link
    scanners cannot unsubscribe anyone), which turns email off without logging in."""
    try:
        user_id = signing.loads(token, salt=services.UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        raise Http404("This unsubscribe link is not valid.") from None
    if not User.objects.filter(pk=user_id).exists():
        raise Http404("This unsubscribe link is not valid.")
    done = False
    if request.method == "POST":
        services.email_unsubscribe(token=token)
        done = True
    return render(request, "notifications/unsubscribe.html", {"done": done})
