from django.urls import path

from . import pages

app_name = "budgets"
urlpatterns = [
    path("", pages.budget_list, name="list"),
    path("save/", pages.budget_save, name="save"),
    path("<int:budget_id>/save/", pages.budget_save, name="change"),
    path("<int:budget_id>/remove/", pages.budget_remove, name="remove"),
    path("recommendations/accept/", pages.recommendations_accept, name="recommendations_accept"),
    path("preferences/", pages.budget_preferences_save, name="preferences"),
]
