from django.urls import path

from . import views

app_name = "categories"
urlpatterns = [
    path("", views.rule_list, name="rules"),
    path("<int:rule_id>/", views.rule_update, name="rule"),
]
