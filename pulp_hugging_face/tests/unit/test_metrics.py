"""The cache's OpenTelemetry instruments, read back with the SDK's in-memory reader.

Requests go through a real aiohttp server whose handler answers like the plugin's (an
`X-Pulp-Cache` header per answer), wrapped by `metrics.measured` exactly as content.py wraps
the real handler.
"""

import asyncio
from types import SimpleNamespace

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from pulp_hugging_face.app import metrics


@pytest.fixture
def reader():
    reader = InMemoryMetricReader()
    metrics.use_provider(MeterProvider(metric_readers=[reader]))
    yield reader
    metrics.use_provider(NoOpMeterProvider())


def points(reader, name):
    """{frozenset(labels): value} of one instrument (sum, or the histogram's count)."""
    found = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name != name:
                    continue
                for point in metric.data.data_points:
                    value = getattr(point, "value", None)
                    found[frozenset(point.attributes.items())] = (
                        value if value is not None else point.count
                    )
    return found


def labels(**kwargs):
    return frozenset(kwargs.items())


BODY = b"x" * 1000


async def plugin_like_handler(request):
    """Answers as the plugin's handler does, after matching distribution 'hf'."""
    metrics.serving(request, SimpleNamespace(name="hf"))
    kind = request.query.get("answer")
    if kind == "raise-404":
        raise web.HTTPNotFound()
    if kind == "error":
        return web.Response(status=502, body=b'{"error": "upstream"}')
    headers = {metrics.CACHE_HEADER: kind}
    if request.method == "HEAD":
        return web.Response(headers=headers)
    if kind == "miss":
        metrics.download_started()
        metrics.upstream_request("file", 200)
        metrics.upstream_bytes(len(BODY))
        metrics.download_finished()
    return web.Response(body=BODY, headers=headers)


def run_requests(requests):
    """[(method, path)] against a server with the plugin's routes, wrapped and hooked."""

    async def run():
        app = web.Application()
        app.on_response_prepare.append(metrics.count_served_bytes)
        app.router.add_route("*", "/pulp/content/{path:.+}", metrics.measured(plugin_like_handler))
        server = TestServer(app)
        await server.start_server()
        try:
            async with ClientSession() as session:
                for method, path in requests:
                    async with session.request(method, server.make_url(path)) as response:
                        await response.read()
        finally:
            await server.close()

    asyncio.run(run())


RESOLVE = "/pulp/content/hf/org/model/resolve/main/config.json"
API = "/pulp/content/hf/api/models/org/model"


def test_requests_are_counted_by_outcome(reader):
    run_requests(
        [
            ("GET", f"{RESOLVE}?answer=hit"),
            ("GET", f"{RESOLVE}?answer=hit"),
            ("GET", f"{RESOLVE}?answer=miss"),
            ("GET", f"{API}?answer=stale"),
            ("GET", f"{RESOLVE}?answer=error"),
            ("GET", f"{RESOLVE}?answer=raise-404"),
        ]
    )
    counted = points(reader, "hugging_face.requests")
    base = {"domain": "default", "distribution": "hf", "method": "GET"}
    assert counted == {
        labels(**base, endpoint="resolve", outcome="hit", status="2xx"): 2,
        labels(**base, endpoint="resolve", outcome="miss", status="2xx"): 1,
        labels(**base, endpoint="api", outcome="stale", status="2xx"): 1,
        labels(**base, endpoint="resolve", outcome="error", status="5xx"): 1,
        labels(**base, endpoint="resolve", outcome="error", status="4xx"): 1,
    }


def test_head_latency_is_recorded_for_resolve_heads_only(reader):
    run_requests(
        [
            ("HEAD", f"{RESOLVE}?answer=hit"),
            ("HEAD", f"{RESOLVE}?answer=miss"),
            ("GET", f"{RESOLVE}?answer=hit"),
        ]
    )
    recorded = points(reader, "hugging_face.head.duration")
    base = {"domain": "default", "distribution": "hf"}
    assert recorded == {labels(**base, outcome="hit"): 1, labels(**base, outcome="miss"): 1}


def test_bytes_served_are_split_by_storage_and_upstream(reader):
    run_requests(
        [
            ("GET", f"{RESOLVE}?answer=hit"),
            ("GET", f"{RESOLVE}?answer=stale"),
            ("GET", f"{RESOLVE}?answer=miss"),
            ("HEAD", f"{RESOLVE}?answer=hit"),  # no body
            ("GET", f"{API}?answer=hit"),  # an API answer, not file bytes
        ]
    )
    served = points(reader, "hugging_face.served.bytes")
    base = {"domain": "default", "distribution": "hf"}
    assert served == {
        labels(**base, source="storage"): 2 * len(BODY),
        labels(**base, source="upstream"): len(BODY),
    }


def test_upstream_bytes_and_requests_carry_the_request_labels(reader):
    run_requests([("GET", f"{RESOLVE}?answer=miss")])
    base = {"domain": "default", "distribution": "hf"}
    assert points(reader, "hugging_face.upstream.bytes") == {labels(**base): len(BODY)}
    assert points(reader, "hugging_face.upstream.requests") == {
        labels(**base, kind="file", status="2xx"): 1
    }


def test_downloads_in_flight_return_to_zero(reader):
    run_requests([("GET", f"{RESOLVE}?answer=miss"), ("GET", f"{RESOLVE}?answer=miss")])
    base = {"domain": "default", "distribution": "hf"}
    assert points(reader, "hugging_face.downloads.in_flight") == {labels(**base): 0}


def test_a_download_under_way_is_in_flight(reader):
    metrics.download_started()
    assert points(reader, "hugging_face.downloads.in_flight") == {
        labels(domain="", distribution=""): 1
    }


def test_upstream_429_is_counted_apart_from_other_4xx(reader):
    for status in (200, 302, 404, 429, 429, 503, None):
        metrics.upstream_metadata_request("GET", status)
    metrics.upstream_metadata_request("HEAD", 200)
    base = {"domain": "", "distribution": ""}
    assert points(reader, "hugging_face.upstream.requests") == {
        labels(**base, kind="api", status="2xx"): 1,
        labels(**base, kind="api", status="3xx"): 1,
        labels(**base, kind="api", status="4xx"): 1,
        labels(**base, kind="api", status="429"): 2,
        labels(**base, kind="api", status="5xx"): 1,
        labels(**base, kind="api", status="error"): 1,
        labels(**base, kind="head", status="2xx"): 1,
    }


def test_evictions_are_counted_in_files_and_bytes_per_remote(reader):
    metrics.evicted("default", "huggingface.co", 3, 3000)
    metrics.evicted("default", "huggingface.co", 1, 10)
    remote = labels(domain="default", remote="huggingface.co")
    assert points(reader, "hugging_face.evictions") == {remote: 4}
    assert points(reader, "hugging_face.evicted.bytes") == {remote: 3010}


def test_every_instrument_is_created_with_its_declared_unit(reader):
    metrics.download_started()
    metrics.evicted("d", "r", 1, 1)
    run_requests([("HEAD", f"{RESOLVE}?answer=hit"), ("GET", f"{RESOLVE}?answer=miss")])
    metrics.upstream_metadata_request("GET", 200)
    data = reader.get_metrics_data()
    seen = {
        m.name: m.unit for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics
    }
    assert seen == {name: unit for name, _kind, unit, _d, _l in metrics.INSTRUMENTS}


def test_without_otel_enabled_the_instruments_are_no_ops(settings):
    settings.OTEL_ENABLED = False
    metrics._instruments = None
    try:
        assert isinstance(metrics._default_provider(), NoOpMeterProvider)
        metrics.upstream_bytes(10)  # records nowhere, raises nothing
    finally:
        metrics.use_provider(NoOpMeterProvider())
