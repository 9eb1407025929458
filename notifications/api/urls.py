"""notifications API routes (mounted under /api/v1/)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from notifications.api import views

router = DefaultRouter()
router.register("notifications", views.NotificationViewSet, basename="notification")

urlpatterns = [
    path(
        "notification-settings/",
        views.NotificationSettingView.as_view(),
        name="notification-settings",
    ),
    path("", include(router.urls)),
]
