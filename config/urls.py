from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("crm.api.urls")),
    path("api/v1/", include("syncengine.api.urls")),
    path("api/v1/", include("backups.api.urls")),
    path("api/v1/", include("notifications.api.urls")),
    path("notifications/", include("notifications.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

# Under /api/, Django's own refusals answer with the API's error body (config/schema.py).
handler400 = "config.api.bad_request"
handler404 = "config.api.not_found"
