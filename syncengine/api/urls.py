"""syncengine API routes (mounted under /api/v1/)."""

from django.urls import path, re_path
from rest_framework.routers import DefaultRouter

from syncengine.api import health, held_deletes, record_sync, views

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
    path(
        "integrations/<int:pk>/held-deletes/",
        held_deletes.HeldDeletesView.as_view(),
        name="integration-held-deletes",
    ),
    path(
        "integrations/<int:pk>/held-deletes/confirm/",
        held_deletes.ConfirmHeldDeletesView.as_view(),
        name="integration-held-deletes-confirm",
    ),
    path(
        "integrations/<int:pk>/held-deletes/discard/",
        held_deletes.DiscardHeldDeletesView.as_view(),
        name="integration-held-deletes-discard",
    ),
    path(
        "integrations/<int:pk>/mass-delete-thresholds/",
        held_deletes.MassDeleteThresholdsView.as_view(),
        name="integration-mass-delete-thresholds",
    ),
    # Beside crm's record routes (crm.api.urls): the same object type pattern.
    re_path(
        r"^objects/(?P<object_type>[a-z][a-z0-9_]{0,99})/records/(?P<id>[0-9]+)/sync/$",
        record_sync.RecordSyncView.as_view(),
        name="record-sync",
    ),
    *router.urls,
]
