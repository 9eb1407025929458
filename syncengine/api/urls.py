"""syncengine API routes (mounted under /api/v1/)."""

from rest_framework.routers import DefaultRouter

from syncengine.api import views

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("integrations", views.IntegrationViewSet, basename="integration")
router.register("sync-stages", views.SyncStageViewSet, basename="sync-stage")

urlpatterns = router.urls
