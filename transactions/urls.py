from django.urls import path

from . import upload_views, views

app_name = "transactions"
urlpatterns = [
    path("", views.transaction_list, name="list"),
    path("export.csv", views.transaction_export, name="export"),
    path("<int:txn_id>/category/", views.transaction_category_change, name="category"),
    path("upload/", upload_views.upload, name="upload"),
    path("upload/<int:pk>/", upload_views.upload_preview, name="upload-preview"),
]
