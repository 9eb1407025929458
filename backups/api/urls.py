"""backups API routes (mounted under /api/v1/)."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from backups.api import views

router = DefaultRouter()
router.register("backups", views.BackupViewSet, basename="backup")
router.register("restores", views.RestoreViewSet, basename="restore")
router.register("imports", views.ImportViewSet, basename="import")

urlpatterns = [
    path("backup-schedule/", views.BackupScheduleView.as_view(), name="backup-schedule"),
    path("auth/totp/", views.TotpView.as_view(), name="auth-totp"),
    path("", include(router.urls)),
]
