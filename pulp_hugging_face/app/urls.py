"""API routes that are not a viewset of a model (pulpcore includes this module)."""

from django.conf import settings
from django.urls import path

from .viewsets import DomainCacheStatsView

if settings.DOMAIN_ENABLED:
    API_ROOT = settings.V3_DOMAIN_API_ROOT_NO_FRONT_SLASH
else:
    API_ROOT = settings.V3_API_ROOT_NO_FRONT_SLASH

urlpatterns = [
    path(f"{API_ROOT}hugging_face/cache_stats/", DomainCacheStatsView.as_view()),
]
