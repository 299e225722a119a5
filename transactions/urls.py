from django.urls import path

from . import views

app_name = "transactions"
urlpatterns = [
    path("", views.transaction_list, name="list"),
    path("<int:txn_id>/category/", views.transaction_category_change, name="category"),
]
