from django.urls import path

from . import views

app_name = "notifications"
urlpatterns = [
    path("", views.notification_list, name="list"),
    path("settings/", views.notification_preferences, name="preferences"),
    path("unsubscribe/<str:token>/", views.email_unsubscribe, name="unsubscribe"),
]
