from django.urls import path

from . import views

app_name = "security"

urlpatterns = [
    path("", views.security_page, name="page"),
    path("tokens/<int:token_id>/revoke/", views.api_token_revoke, name="api-token-revoke"),
    path("sign-in/code/", views.sign_in_code, name="sign-in-code"),
    path("two-factor/", views.two_factor_setup, name="two-factor-setup"),
    path("two-factor/off/", views.two_factor_disable, name="two-factor-disable"),
    path("two-factor/recovery-codes/", views.recovery_codes_regenerate, name="recovery-codes-regenerate"),
    path("password/", views.password_change, name="password-change"),
    path("password/reset/", views.password_reset, name="password-reset"),
    path("password/reset/sent/", views.password_reset_done, name="password-reset-done"),
    path("password/reset/<uidb64>/<token>/", views.password_reset_confirm, name="password-reset-confirm"),
    path("password/reset/complete/", views.password_reset_complete, name="password-reset-complete"),
]
