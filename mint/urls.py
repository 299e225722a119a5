from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path, re_path, register_converter
from rest_framework.authtoken.views import obtain_auth_token

from accounts.api import ConnectApi, SimpleFinConnectApi
from budgets.api import SpendingApi
from budgets.views import dashboard

from . import views
from .api import build_router
from .converters import MonthConverter

register_converter(MonthConverter, "month")

api_v1: list[URLPattern | URLResolver] = [
    path("auth/token/", obtain_auth_token, name="api_token"),
    re_path(r"^account/?$", ConnectApi.as_view(), name="api_connect"),
    re_path(r"^connections/simplefin/?$", SimpleFinConnectApi.as_view(), name="api_connect_simplefin"),
    re_path(r"^spending/current/?$", SpendingApi.as_view(), name="api_spending_current"),
    path("spending/<month:month>/", SpendingApi.as_view(), name="api_spending_month"),
    path("", include(build_router().urls)),
]

urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("signup/", views.signup, name="signup"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("accounts.urls")),
    path("transactions/", include("transactions.urls")),
    path("budgets/", include("budgets.urls")),
    path("rules/", include("categories.urls")),
    path("notifications/", include("notifications.urls")),
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
]
