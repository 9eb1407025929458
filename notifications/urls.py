"""Notification pages outside the admin (mounted under /notifications/)."""

from django.urls import path

from notifications.views import unsubscribe_view

urlpatterns = [
    path("unsubscribe/<str:token>/", unsubscribe_view, name="notifications-unsubscribe"),
]
