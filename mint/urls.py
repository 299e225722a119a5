from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path, re_path, register_converter
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from accounts.api import ConnectApi, SimpleFinConnectApi
from budgets.api import SpendingApi, SpendingTrendApi
from budgets.views import dashboard
from security import views as security_views
from security.api import ApiTokenCreateApi, ApiTokenLogoutApi, PasswordChangeApi

from . import data_views, views
from .api import build_router
from .api_docs import ApiDocsView
from .converters import MonthConverter
from .data_api import UserDataExportApi, UserDeleteApi

register_converter(MonthConverter, "month")
handler404 = "mint.api.not_found"

api_v1: list[URLPattern | URLResolver] = [
    path("auth/token/", ApiTokenCreateApi.as_view(), name="api_token"),
    path("auth/logout/", ApiTokenLogoutApi.as_view(), name="api_token_logout"),
    re_path(r"^account/?$", ConnectApi.as_view(), name="api_connect"),
    re_path(r"^connections/simplefin/?$", SimpleFinConnectApi.as_view(), name="api_connect_simplefin"),
    re_path(r"^spending/current/?$", SpendingApi.as_view(), name="api_spending_current"),
    re_path(r"^spending/trend/?$", SpendingTrendApi.as_view(), name="api_spending_trend"),
    path("spending/<month:month>/", SpendingApi.as_view(), name="api_spending_month"),
    re_path(r"^me/export(?:\.zip)?/?$", UserDataExportApi.as_view(), name="api_user_data_export"),
    re_path(r"^me/delete/?$", UserDeleteApi.as_view(), name="api_user_delete"),
    re_path(r"^me/password/?$", PasswordChangeApi.as_view(), name="api_password_change"),
    path("", include(build_router().urls)),
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("docs/", ApiDocsView.as_view(), name="api_docs"),
]

urlpatterns = [
    path("", dashboard, name="dashboard"),
    path("signup/", views.signup, name="signup"),
    path("login/", security_views.sign_in, name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("accounts.urls")),
    path("transactions/", include("transactions.urls")),
    path("budgets/", include("budgets.urls")),
    path("rules/", include("categories.urls")),
    path("notifications/", include("notifications.urls")),
    path("security/", include("security.urls")),
    path("settings/data/", data_views.your_data, name="your_data"),
    path("settings/data/export.zip", data_views.your_data_export, name="your_data_export"),
    path("api/v1/", include(api_v1)),
    path("admin/login/", security_views.admin_sign_in),  # the site's sign-in: limits and two-factor
    # The site's password change, which checks the old password within the sign-in limits.
    path("admin/password_change/", RedirectView.as_view(pattern_name="security:password-change")),
    path("admin/", admin.site.urls),
]
