"""The Hub routes of the content app.

pulpcore imports this module before it adds its catch-all route, so these routes own the Hub
surface of a Hugging Face distribution: `.../resolve/...` (HEAD, GET) and `.../api/...` (GET,
and POST for paths-info). The handler is in `handler.py`.
"""

from aiohttp import web
from django.conf import settings

from pulpcore.plugin.content import app

from . import metrics
from .access import count_answer, flush_on_shutdown
from .handler import HuggingFaceHandler, hub_fast_path, keep_hub_etag
from .memory import listen
from .pullthrough import sweeping
from .upstream import close_all


def _add_routes():
    prefix = settings.CONTENT_PATH_PREFIX
    if settings.DOMAIN_ENABLED:
        prefix += "{pulp_domain}/"
    handler = HuggingFaceHandler()
    # Measured wherever it is called from: its routes and the fast path (metrics.py).
    handler.handle = metrics.measured(handler.handle)
    app.cleanup_ctx.append(listen)
    app.cleanup_ctx.append(sweeping)
    app.on_cleanup.append(close_all)
    app.on_cleanup.append(flush_on_shutdown)
    app.on_response_prepare.append(keep_hub_etag)
    app.on_response_prepare.append(metrics.count_served_bytes)
    app.on_response_prepare.append(count_answer)
    app.middlewares.insert(_before_authentication(), hub_fast_path(handler))
    app.add_routes(
        [
            web.route("*", prefix + r"{path:.+/resolve/.+}", handler.handle),
            web.route("*", prefix + r"{path:(?:.+/)?api/.+}", handler.handle),
        ]
    )


def _before_authentication():
    """Where the fast path goes in pulpcore's middlewares: just before its authentication."""
    for index, middleware in enumerate(app.middlewares):
        if getattr(middleware, "__name__", "") == "authenticate":
            return index
    return len(app.middlewares)


_add_routes()
