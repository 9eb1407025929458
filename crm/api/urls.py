from django.urls import include, path
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.routers import DefaultRouter
from rest_framework.settings import api_settings

from config.throttling import TokenIpThrottle, TokenUsernameThrottle
from crm.api import owners, saved_views, views

router = DefaultRouter()
router.register("object-types", views.ObjectTypeViewSet, basename="object-type")
router.register(
    r"object-types/(?P<object_type>[a-z][a-z0-9_]*)/properties",
    views.PropertyViewSet,
    basename="property",
)
router.register(
    r"objects/(?P<object_type>[a-z][a-z0-9_]*)/records", views.RecordViewSet, basename="record"
)
router.register(
    "association-definitions", views.AssociationDefinitionViewSet, basename="association-definition"
)
router.register("associations", views.AssociationViewSet, basename="association")
router.register("audit-events", views.AuditEventViewSet, basename="audit-event")
router.register("views", saved_views.SavedViewViewSet, basename="saved-view")
router.register("owners", owners.OwnerViewSet, basename="owner")

urlpatterns = [
    # DRF's token view names its own parsers: give it the project's (depth, NUL, surrogates);
    # and limit password guessing per client address and per username (429, Retry-After).
    path(
        "auth/token/",
        ObtainAuthToken.as_view(
            parser_classes=api_settings.DEFAULT_PARSER_CLASSES,
            throttle_classes=[TokenIpThrottle, TokenUsernameThrottle],
        ),
        name="api-token",
    ),
    path("", include(router.urls)),
]
