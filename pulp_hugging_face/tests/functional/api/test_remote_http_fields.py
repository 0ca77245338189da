"""Every HTTP field of a remote holds for metadata requests and file downloads alike.

The hub is the fake hub over HTTPS with a CA of its own (and, for client certificates, one that
requires them); the proxy is a real forward proxy (proxy.py) that wants basic auth.
"""

import hashlib
import socket
import time

import pytest
import requests

from pulp_hugging_face.tests.functional.fake_hub import MODEL_ID

SNAPSHOT = """
import hashlib, os
from huggingface_hub import HfApi, snapshot_download
path = snapshot_download({repo!r})
files = {{}}
for root, _, names in os.walk(path):
    for name in names:
        full = os.path.join(root, name)
        files[os.path.relpath(full, path)] = hashlib.sha256(open(full, "rb").read()).hexdigest()
api = HfApi()
info = api.model_info({repo!r}, files_metadata=True)
tree = [e.path for e in api.list_repo_tree({repo!r}, recursive=True)]
result = {{"files": files, "sha": info.sha, "tree": sorted(tree)}}
"""


def resolve_url(endpoint, filename, revision="main"):
    return f"{endpoint}/{MODEL_ID}/resolve/{revision}/{filename}"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def expected_files(hub):
    files = hub.repo(MODEL_ID)["files"]["A"]
    return {path: facts["sha256"] for path, facts in files.items()}


def assert_unavailable(response):
    assert response.status_code in (502, 504), (response.status_code, response.text)
    assert response.headers["X-Error-Code"] == "UpstreamUnavailable"


def test_https_hub_with_the_remote_ca_cert(hf_cache_factory, https_fake_hub, hf_client):
    https_fake_hub.reset()
    cache = hf_cache_factory(url=https_fake_hub.url, ca_cert=https_fake_hub.ca_cert_pem)
    result = hf_client(SNAPSHOT.format(repo=MODEL_ID), cache.endpoint)
    assert result["files"] == expected_files(https_fake_hub)
    assert result["sha"] == https_fake_hub.commit_sha(MODEL_ID, "main")
    assert set(result["tree"]) >= set(expected_files(https_fake_hub))
    kinds = https_fake_hub.stats()["by_kind"]
    assert kinds.get("api") and kinds.get("resolve") and kinds.get("cdn")  # all went over TLS

    data = https_fake_hub.file_bytes(MODEL_ID, "big.bin")
    ranged = requests.get(resolve_url(cache.endpoint, "big.bin"), headers={"Range": "bytes=10-99"})
    assert ranged.status_code == 206
    assert ranged.content == data[10:100]


def test_https_hub_without_the_ca_cert_is_refused(hf_cache_factory, https_fake_hub):
    cache = hf_cache_factory(url=https_fake_hub.url, max_retries=0)
    https_fake_hub.reset()
    assert_unavailable(requests.head(resolve_url(cache.endpoint, "config.json"), timeout=30))
    assert_unavailable(requests.get(f"{cache.endpoint}/api/models/{MODEL_ID}", timeout=30))
    assert https_fake_hub.count() == 0  # the handshake failed: no request was made


def test_tls_validation_off_trusts_any_certificate(hf_cache_factory, https_fake_hub):
    cache = hf_cache_factory(url=https_fake_hub.url, tls_validation=False)
    response = requests.get(resolve_url(cache.endpoint, "big.bin"), timeout=60)
    assert response.status_code == 200
    assert response.content == https_fake_hub.file_bytes(MODEL_ID, "big.bin")
    info = requests.get(f"{cache.endpoint}/api/models/{MODEL_ID}", timeout=30)
    assert info.json()["sha"] == https_fake_hub.commit_sha(MODEL_ID, "main")


def test_client_certificate_opens_a_hub_that_requires_one(hf_cache_factory, mtls_fake_hub):
    mtls_fake_hub.reset()
    cache = hf_cache_factory(
        url=mtls_fake_hub.url,
        ca_cert=mtls_fake_hub.ca_cert_pem,
        client_cert=mtls_fake_hub.client_cert_pem,
        client_key=mtls_fake_hub.client_key_pem,
    )
    head = requests.head(resolve_url(cache.endpoint, "config.json"), timeout=30)
    assert head.status_code == 200
    body = requests.get(resolve_url(cache.endpoint, "big.bin"), timeout=60)
    assert body.content == mtls_fake_hub.file_bytes(MODEL_ID, "big.bin")
    tree = requests.get(f"{cache.endpoint}/api/models/{MODEL_ID}/tree/main", timeout=30)
    assert tree.status_code == 200 and tree.json()
    kinds = mtls_fake_hub.stats()["by_kind"]
    assert kinds.get("resolve") and kinds.get("cdn") and kinds.get("api")


def test_hub_that_requires_a_client_certificate_refuses_a_remote_without(
    hf_cache_factory, mtls_fake_hub
):
    cache = hf_cache_factory(url=mtls_fake_hub.url, ca_cert=mtls_fake_hub.ca_cert_pem)
    mtls_fake_hub.reset()
    assert_unavailable(requests.head(resolve_url(cache.endpoint, "config.json"), timeout=30))
    assert mtls_fake_hub.count() == 0


def proxy_remote(proxy, **fields):
    return {
        "proxy_url": proxy.url,
        "proxy_username": proxy.username,
        "proxy_password": proxy.password,
        **fields,
    }


def test_proxy_carries_metadata_and_bodies(hf_cache_factory, hub_reset, forward_proxy):
    cache = hf_cache_factory(**proxy_remote(forward_proxy))
    forward_proxy.reset()
    assert requests.head(resolve_url(cache.endpoint, "config.json")).status_code == 200
    body = requests.get(resolve_url(cache.endpoint, "big.bin"), timeout=60)
    assert sha256(body.content) == sha256(hub_reset.file_bytes(MODEL_ID, "big.bin"))
    assert requests.get(f"{cache.endpoint}/api/models/{MODEL_ID}").status_code == 200

    proxied = forward_proxy.requests()
    hub_origin = hub_reset.url.split("://", 1)[1]
    cdn_origin = hub_reset.cdn_url.split("://", 1)[1]
    assert {r["target"] for r in proxied} == {hub_origin, cdn_origin}
    assert all(r["status"] is None for r in proxied), proxied  # none refused
    # Everything the hub and the CDN saw came through the proxy.
    assert len(proxied) == hub_reset.count() > 0


def test_proxy_tunnels_to_an_https_hub(hf_cache_factory, https_fake_hub, forward_proxy):
    cache = hf_cache_factory(
        url=https_fake_hub.url,
        ca_cert=https_fake_hub.ca_cert_pem,
        **proxy_remote(forward_proxy),
    )
    forward_proxy.reset()
    head = requests.head(resolve_url(cache.endpoint, "config.json"), timeout=30)
    assert head.status_code == 200
    body = requests.get(resolve_url(cache.endpoint, "big.bin"), timeout=60)
    assert body.content == https_fake_hub.file_bytes(MODEL_ID, "big.bin")
    tunnels = [r for r in forward_proxy.requests() if r["tunnel"]]
    assert tunnels and all(r["method"] == "CONNECT" for r in tunnels)
    cdn_origin = https_fake_hub.cdn_url.split("://", 1)[1]
    hub_origin = https_fake_hub.url.split("://", 1)[1]
    assert {r["target"] for r in tunnels} == {hub_origin, cdn_origin}


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_proxy_with_wrong_credentials_is_an_upstream_error(
    hf_cache_factory, hub_reset, https_fake_hub, forward_proxy, scheme
):
    hub = https_fake_hub if scheme == "https" else hub_reset
    cache = hf_cache_factory(
        url=hub.url,
        ca_cert=https_fake_hub.ca_cert_pem,
        max_retries=0,
        **proxy_remote(forward_proxy, proxy_password="not-the-password"),
    )
    hub.reset()
    forward_proxy.reset()
    head = requests.head(resolve_url(cache.endpoint, "config.json"), timeout=30)
    assert_unavailable(head)
    # Over plain HTTP the proxy's 407 is read; a refused CONNECT is named as the proxy's.
    assert "proxy" in head.headers["X-Error-Message"]
    assert_unavailable(requests.get(f"{cache.endpoint}/api/models/{MODEL_ID}", timeout=30))
    assert forward_proxy.count(status=407) >= 1
    assert hub.count() == 0


@pytest.fixture
def https_hub(https_fake_hub):
    """The HTTPS fake hub, with zeroed counters and no faults, before and after the test."""
    https_fake_hub.reset()
    https_fake_hub.configure(fault=None, latency=0)
    yield https_fake_hub
    https_fake_hub.configure(fault=None, latency=0)


def https_remote(hub, **fields):
    return {"url": hub.url, "ca_cert": hub.ca_cert_pem, **fields}


def test_remote_headers_reach_the_hub_on_every_request(hf_cache_factory, https_hub):
    cache = hf_cache_factory(**https_remote(https_hub, headers=[{"X-Site": "lab-7"}]))
    requests.head(resolve_url(cache.endpoint, "config.json"))
    requests.get(resolve_url(cache.endpoint, "big.bin"))
    requests.get(f"{cache.endpoint}/api/models/{MODEL_ID}/tree/main")
    seen = https_hub.stats()["requests"]
    assert {r["kind"] for r in seen} >= {"resolve", "cdn", "api"}
    for entry in seen:
        headers = {name.lower(): value for name, value in entry["headers"].items()}
        assert headers.get("x-site") == "lab-7", entry


def test_rate_limit_spaces_metadata_requests(hf_cache_factory, https_hub):
    cache = hf_cache_factory(**https_remote(https_hub, rate_limit=1))
    files = list(https_hub.repo(MODEL_ID)["files"]["A"])[:5]
    https_hub.reset()
    for name in files:  # cold HEADs one after another: each asks upstream
        assert requests.head(resolve_url(cache.endpoint, name), timeout=30).status_code == 200
    times = sorted(r["time"] for r in https_hub.stats()["requests"] if r["method"] == "HEAD")
    assert len(times) >= len(files)
    # At most one request a second per content process (each process has its own throttle).
    processes = 2
    for i, start in enumerate(times):
        in_window = [t for t in times[i:] if t - start < 0.95]
        assert len(in_window) <= processes, times


def test_sock_read_timeout_bounds_a_metadata_request(hf_cache_factory, https_hub):
    cache = hf_cache_factory(**https_remote(https_hub, sock_read_timeout=1, metadata_timeout=8))
    https_hub.configure(latency=4)
    started = time.monotonic()
    response = requests.head(resolve_url(cache.endpoint, "config.json"), timeout=30)
    assert_unavailable(response)
    assert time.monotonic() - started < 3


def test_total_timeout_bounds_a_metadata_request(hf_cache_factory, https_hub):
    cache = hf_cache_factory(**https_remote(https_hub, total_timeout=1, metadata_timeout=8))
    https_hub.configure(latency=4)
    started = time.monotonic()
    response = requests.get(f"{cache.endpoint}/api/models/{MODEL_ID}", timeout=30)
    assert_unavailable(response)
    assert time.monotonic() - started < 3


@pytest.fixture
def unanswered_address():
    """A loopback port whose listen queue is full, so a new connection never completes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(server.getsockname())
        fillers.append(filler)
    time.sleep(0.2)
    host, port = server.getsockname()
    yield f"https://{host}:{port}"
    for sock in [*fillers, server]:
        sock.close()


def test_connect_timeout_bounds_a_metadata_request(hf_cache_factory, unanswered_address):
    cache = hf_cache_factory(url=unanswered_address, connect_timeout=1, metadata_timeout=8)
    started = time.monotonic()
    response = requests.head(resolve_url(cache.endpoint, "config.json"), timeout=30)
    assert_unavailable(response)
    assert time.monotonic() - started < 3
