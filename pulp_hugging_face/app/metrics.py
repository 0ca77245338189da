"""OpenTelemetry metrics of the Hugging Face cache (docs/admin/reference/metrics.md).

Enabled by pulpcore's own switch, the `OTEL_ENABLED` setting (`PULP_OTEL_ENABLED=true`), and
exported the way pulpcore exports its content-app metrics: OTLP over HTTP, configured by the
standard `OTEL_EXPORTER_OTLP_*` variables, every `OTEL_METRIC_EXPORT_INTERVAL` ms, with
`service.name` "pulp-content". pulpcore's meter (`pulpcore.metrics`) is not part of the plugin
API, so the plugin has a provider of its own with the same setup. Without `OTEL_ENABLED` every
call here is a no-op.

Every instrument is labelled by `domain` and `distribution`: the content app's request sets
them once (`measured`, `serving`) in a context variable, which the downloads and upstream
requests it starts inherit. Calls from elsewhere (a task) carry "" for what they do not know.
The call sites in handler.py, pullthrough.py, upstream.py and downloaders.py are single lines.
"""

import contextvars
import logging
import os
import socket
import time
from functools import wraps

from aiohttp import web
from django.conf import settings
from opentelemetry.metrics import NoOpMeterProvider

log = logging.getLogger(__name__)

METER_NAME = "pulp_hugging_face"
SERVICE_NAME = "pulp-content"
CACHE_HEADER = "X-Pulp-Cache"  # hit, miss or stale: set by the handler on every answer
OUTCOMES = ("hit", "miss", "stale")
ERROR = "error"
LABELS = web.RequestKey("hf_metrics_labels", dict)  # the labels of the request

# (name, kind, unit, description, labels): the one list of instruments, also used by the docs
# test that checks metrics.md names every instrument with its labels.
INSTRUMENTS = (
    (
        "hugging_face.requests",
        "counter",
        "{request}",
        (
            "Hub requests answered by the content app, by outcome: hit (from stored facts or files), "
            "miss (asked upstream), stale (stored answer while upstream fails), error (a 4xx/5xx "
            "answer that is not from the cache)."
        ),
        ("domain", "distribution", "endpoint", "method", "outcome", "status"),
    ),
    (
        "hugging_face.served.bytes",
        "counter",
        "By",
        (
            "File bytes answered to clients (Content-Length of 200/206 answers of resolve GETs), by "
            "source: storage (a stored file) or upstream (a miss streamed while it downloads)."
        ),
        ("domain", "distribution", "source"),
    ),
    (
        "hugging_face.upstream.bytes",
        "counter",
        "By",
        "File bytes downloaded from the hub (or its CDN).",
        ("domain", "distribution"),
    ),
    (
        "hugging_face.upstream.requests",
        "counter",
        "{request}",
        (
            "Requests to the hub, by kind (head, api, file) and status class (2xx, 3xx, 4xx, 5xx; "
            "429 on its own; error when no answer came)."
        ),
        ("domain", "distribution", "kind", "status"),
    ),
    (
        "hugging_face.downloads.in_flight",
        "updowncounter",
        "{download}",
        "File downloads from upstream this process leads now.",
        ("domain", "distribution"),
    ),
    (
        "hugging_face.head.duration",
        "histogram",
        "ms",
        "Time to answer a resolve HEAD (the client waits 10 s at most).",
        ("domain", "distribution", "outcome"),
    ),
    (
        "hugging_face.evictions",
        "counter",
        "{file}",
        "Files evicted from the cache.",
        ("domain", "remote"),
    ),
    (
        "hugging_face.evicted.bytes",
        "counter",
        "By",
        "Bytes evicted from the cache.",
        ("domain", "remote"),
    ),
)

_labels = contextvars.ContextVar("hf_metrics_labels", default=None)


class Instruments:
    def __init__(self, provider):
        meter = provider.get_meter(METER_NAME)
        create = {
            "counter": meter.create_counter,
            "updowncounter": meter.create_up_down_counter,
            "histogram": meter.create_histogram,
        }
        self.by_name = {
            name: create[kind](name, unit=unit, description=description)
            for name, kind, unit, description, _labels_ in INSTRUMENTS
        }

    def __getitem__(self, name):
        return self.by_name[name]


_instruments = None


def _default_provider():
    if not settings.OTEL_ENABLED:
        return NoOpMeterProvider()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    reader = PeriodicExportingMetricReader(OTLPMetricExporter())
    # Each gunicorn worker exports its own cumulative counters: the instance id keeps their
    # series apart, so a backend can add them up.
    instance = f"{socket.gethostname()}-{os.getpid()}"
    resource = Resource(attributes={"service.name": SERVICE_NAME, "service.instance.id": instance})
    return MeterProvider(metric_readers=[reader], resource=resource)


def instruments():
    global _instruments
    if _instruments is None:
        _instruments = Instruments(_default_provider())
    return _instruments


def use_provider(provider):
    """Record into `provider` from now on (tests: a MeterProvider with an in-memory reader)."""
    global _instruments
    _instruments = Instruments(provider)


def status_class(status):
    if status is None:
        return ERROR
    if status == 429:
        return "429"  # rate limited: the one 4xx an admin acts on
    return f"{status // 100}xx"


def _current():
    return _labels.get() or {"domain": "", "distribution": ""}


def _base():
    labels = _current()
    return {"domain": labels["domain"], "distribution": labels["distribution"]}


# --- the content app's requests ---------------------------------------------------------------


def measured(handle):
    """Wrap the Hub routes' handler: count each request by outcome, time resolve HEADs.

    Without OTEL_ENABLED (and no provider set by a test) the handler is left as it is: the warm
    path pays nothing for metrics nobody exports.
    """
    if _instruments is None and not settings.OTEL_ENABLED:
        return handle

    @wraps(handle)
    async def measured_handle(request):
        labels = {"domain": request.match_info.get("pulp_domain", "default"), "distribution": ""}
        _labels.set(labels)
        request[LABELS] = labels
        started = time.monotonic()
        status, outcome = 500, ERROR
        try:
            response = await handle(request)
            status = response.status
            outcome = response.headers.get(CACHE_HEADER) or (ERROR if status >= 400 else "hit")
            return response
        except web.HTTPException as exc:
            status = exc.status
            outcome = ERROR if status >= 400 else "hit"
            raise
        finally:
            try:
                _record_request(request, labels, status, outcome, started)
            except Exception:  # metrics never break an answer
                log.exception("Recording request metrics failed")

    return measured_handle


def _record_request(request, labels, status, outcome, started):
    endpoint = "resolve" if "/resolve/" in request.path else "api"
    base = {"domain": labels["domain"], "distribution": labels["distribution"]}
    instruments()["hugging_face.requests"].add(
        1,
        {
            **base,
            "endpoint": endpoint,
            "method": request.method,
            "outcome": outcome,
            "status": status_class(status),
        },
    )
    if endpoint == "resolve" and request.method == "HEAD":
        elapsed_ms = (time.monotonic() - started) * 1000
        instruments()["hugging_face.head.duration"].record(elapsed_ms, {**base, "outcome": outcome})


def serving(request, distribution):
    """The handler found the distribution: label everything of this request with it."""
    labels = request.get(LABELS)
    if labels is not None:
        labels["distribution"] = distribution.name


async def count_served_bytes(request, response):
    """on_response_prepare: the file bytes a resolve GET answers, by where they come from."""
    labels = request.get(LABELS)
    if labels is None or request.method != "GET" or response.status not in (200, 206):
        return
    if "/resolve/" not in request.path or response.content_length is None:
        return
    # A stored file on a filesystem is a FileResponse, whatever the facts' cache state was.
    from_upstream = response.headers.get(CACHE_HEADER) == "miss"
    source = (
        "storage" if isinstance(response, web.FileResponse) or not from_upstream else "upstream"
    )
    base = {"domain": labels["domain"], "distribution": labels["distribution"]}
    instruments()["hugging_face.served.bytes"].add(
        response.content_length, {**base, "source": source}
    )


# --- upstream ---------------------------------------------------------------------------------


def upstream_request(kind, status):
    """One request to the hub: kind "head", "api" or "file"; status None when none came."""
    instruments()["hugging_face.upstream.requests"].add(
        1, {**_base(), "kind": kind, "status": status_class(status)}
    )


def upstream_metadata_request(method, status):
    upstream_request("head" if method == "HEAD" else "api", status)


def upstream_bytes(count):
    instruments()["hugging_face.upstream.bytes"].add(count, _base())


def download_started():
    instruments()["hugging_face.downloads.in_flight"].add(1, _base())


def download_finished():
    instruments()["hugging_face.downloads.in_flight"].add(-1, _base())


# --- eviction (app/tasks/eviction.py) -----------------------------------------------------------


def evicted(domain_name, remote_name, files, size):
    """An eviction removed `files` files of `size` bytes from a remote's cache."""
    labels = {"domain": domain_name, "remote": remote_name}
    instruments()["hugging_face.evictions"].add(files, labels)
    instruments()["hugging_face.evicted.bytes"].add(size, labels)
