"""syncengine API routes (mounted under /api/v1/)."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from syncengine.api import health, views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("integrations", views.IntegrationViewSet, basename="integration")
router.register("sync-stages", views.SyncStageViewSet, basename="sync-stage")
router.register("sync-errors", health.SyncErrorViewSet, basename="sync-error")

urlpatterns = [
    path(
        "integrations/<int:pk>/health/",
        health.IntegrationHealthView.as_view(),
        name="integration-health",
    ),
    *router.urls,
]
