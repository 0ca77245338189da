"""The content app exports the cache's metrics over OTLP when pulpcore's OTEL_ENABLED is on.

The content app is restarted with `PULP_OTEL_ENABLED=true` and an OTLP endpoint of a receiver
this test runs (`otlp_receiver.py`), then restarted back as it was.
"""

import os
import signal
import time
from pathlib import Path

import pytest
import requests

from pulp_hugging_face.tests.functional.fake_hub import MODEL_ID
from pulp_hugging_face.tests.functional.multihost import restart_stopped_apps
from pulp_hugging_face.tests.functional.otlp_receiver import OTLPReceiver

pytestmark = pytest.mark.local_pulp
OTEL_VARIABLES = (
    "PULP_OTEL_ENABLED",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_METRIC_EXPORT_INTERVAL",
)


def restart_content_app(state_dir, env):
    pid = int((state_dir / "run" / "content.pid").read_text().split()[0])
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    restart_stopped_apps(state_dir, env=env)


@pytest.fixture
def otlp_receiver():
    receiver = OTLPReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def content_app_exporting(otlp_receiver):
    state_dir = Path(os.environ["PULP_HF_STATE_DIR"])
    plain = {k: v for k, v in os.environ.items() if k not in OTEL_VARIABLES}
    restart_content_app(
        state_dir,
        {
            **plain,
            "PULP_OTEL_ENABLED": "true",
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": f"{otlp_receiver.url}/v1/metrics",
            "OTEL_METRIC_EXPORT_INTERVAL": "500",
        },
    )
    yield otlp_receiver
    restart_content_app(state_dir, plain)


def wait_for(receiver, name, expected, **attributes):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if receiver.total(name, **attributes) == expected:
            return
        time.sleep(0.5)
    assert receiver.total(name, **attributes) == expected, name


def test_hits_misses_bytes_and_head_latency_reach_the_collector(
    content_app_exporting, hf_cache_factory, fake_hub
):
    cache = hf_cache_factory()
    name = cache.distribution.name
    url = f"{cache.endpoint}/{MODEL_ID}/resolve/main/config.json"
    size = len(fake_hub.file_bytes(MODEL_ID, "config.json"))
    assert requests.head(url).status_code == 200
    assert requests.get(url).headers["X-Pulp-Cache"] == "miss"
    assert requests.get(url).headers["X-Pulp-Cache"] == "hit"

    receiver = content_app_exporting
    resolve = {"distribution": name, "endpoint": "resolve", "method": "GET"}
    wait_for(receiver, "hugging_face.requests", 1, outcome="miss", **resolve)
    wait_for(receiver, "hugging_face.requests", 1, outcome="hit", **resolve)
    wait_for(receiver, "hugging_face.served.bytes", size, distribution=name, source="upstream")
    wait_for(receiver, "hugging_face.served.bytes", size, distribution=name, source="storage")
    wait_for(receiver, "hugging_face.upstream.bytes", size, distribution=name)
    wait_for(receiver, "hugging_face.head.duration", 1, distribution=name)
    wait_for(receiver, "hugging_face.downloads.in_flight", 0, distribution=name)
    assert receiver.total("hugging_face.upstream.requests", distribution=name, kind="file") >= 1
    # pulpcore's own content-app instrument travels the same way.
    assert receiver.total("content.request_duration") is not None
