from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from mint.http import AuthenticatedHttpRequest

from . import selectors


@login_required
def notification_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    notifications = selectors.notification_list_for_user(user=request.user)[:100]
    return render(request, "notifications/notification_list.html", {"notifications": notifications})
