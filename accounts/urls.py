from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("", views.account_list, name="list"),
    path("link/", views.connect, name="connect"),
    path("link/simplefin/", views.connect_simplefin, name="connect-simplefin"),
    path("connections/<int:pk>/refresh/", views.refresh, name="refresh"),
    path("connections/<int:pk>/credentials/", views.credentials, name="credentials"),
    path("connections/<int:pk>/disconnect/", views.disconnect, name="disconnect"),
]
