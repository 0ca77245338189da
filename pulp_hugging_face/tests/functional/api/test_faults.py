"""Upstream faults never leave a partial or corrupt file in the cache."""

import concurrent.futures
import hashlib
import time

import pytest
import requests

from pulp_hugging_face.tests.functional.fake_hub import MODEL_ID


def resolve_url(endpoint, filename, revision="main"):
    return f"{endpoint}/{MODEL_ID}/resolve/{revision}/{filename}"


@pytest.mark.parametrize("fault", ["drop", "corrupt", "short"])
def test_broken_body_is_never_stored(
    hf_cache_factory, hub_reset, hugging_face_bindings, pulpcore_bindings, fault
):
    cache = hf_cache_factory(max_retries=0)
    data = hub_reset.file_bytes(MODEL_ID, "big.bin")
    commit = hub_reset.commit_sha(MODEL_ID, "main")
    url = resolve_url(cache.endpoint, "big.bin")
    assert requests.head(url).status_code == 200  # metadata known before the body breaks

    hub_reset.configure(fault=fault, fault_target="cdn", fault_count=1)
    try:
        broken = requests.get(url, timeout=60)
        received = broken.content
    except requests.exceptions.RequestException:
        received = None
    # Never a whole file that is wrong: the transfer breaks before the last byte.
    assert received is None or len(received) < len(data)

    # The next request after the fault gets the right bytes, and only they are stored.
    hub_reset.configure(fault=None)
    good = requests.get(url, timeout=60)
    assert good.status_code == 200
    assert hashlib.sha256(good.content).hexdigest() == hashlib.sha256(data).hexdigest()
    hub_reset.reset()
    assert requests.get(url).content == data
    assert hub_reset.count() == 0
    units = hugging_face_bindings.ContentHuggingFaceApi.list(commit=commit, path="big.bin")
    assert units.count >= 1
    assert all(u.sha256 == hashlib.sha256(data).hexdigest() for u in units.results)
    corrupt_digest = pulpcore_bindings.ArtifactsApi.list(
        sha256=hashlib.sha256(received or b"").hexdigest()
    )
    assert corrupt_digest.count == 0


@pytest.mark.parametrize("fault,status", [("5xx", 502), ("429", 429)])
def test_upstream_errors_are_hf_style_and_not_cached(hf_cache_factory, hub_reset, fault, status):
    cache = hf_cache_factory()
    hub_reset.configure(fault=fault, fault_target="all", retry_after=7)
    response = requests.get(resolve_url(cache.endpoint, "config.json"))
    assert response.status_code == status
    assert response.headers["X-Error-Code"] == "UpstreamUnavailable"
    assert "unavailable" in response.json()["error"]
    if status == 429:
        assert response.headers["Retry-After"] == "7"

    hub_reset.configure(fault=None)
    recovered = requests.get(resolve_url(cache.endpoint, "config.json"))
    assert recovered.status_code == 200
    assert recovered.content == hub_reset.file_bytes(MODEL_ID, "config.json")


def test_slow_upstream_metadata_times_out_quickly(hf_cache_factory, hub_reset):
    cache = hf_cache_factory(metadata_timeout=1)
    hub_reset.configure(latency=5)
    response = requests.head(resolve_url(cache.endpoint, "config.json"), timeout=30)
    assert response.status_code == 504
    assert response.elapsed.total_seconds() < 4
    assert response.headers["X-Error-Code"] == "UpstreamUnavailable"


def test_parallel_cold_requests_store_one_artifact(
    hf_cache_factory, hub_reset, hugging_face_bindings, pulpcore_bindings
):
    cache = hf_cache_factory()
    data = hub_reset.file_bytes(MODEL_ID, "big.bin")
    url = resolve_url(cache.endpoint, "big.bin")
    requests.head(url)
    ranges = [None, None, None, None, "bytes=0-99", "bytes=3000000-", "bytes=-10", None]
    hub_reset.configure(latency=1)  # the requests overlap with the download

    def get(byte_range):
        headers = {"Range": byte_range} if byte_range else {}
        return requests.get(url, headers=headers, timeout=120)

    with concurrent.futures.ThreadPoolExecutor(len(ranges)) as pool:
        responses = list(pool.map(get, ranges))

    hub_reset.configure(latency=0)
    expected = [data, data, data, data, data[:100], data[3000000:], data[-10:], data]
    assert [r.content == e for r, e in zip(responses, expected)] == [True] * len(ranges)
    assert [r.status_code for r in responses] == [206 if b else 200 for b in ranges]
    # One upstream download, whichever content-app process each request reached.
    content_apps = len(pulpcore_bindings.StatusApi.status_read().online_content_apps)
    assert content_apps >= 2  # the test Pulp runs two content processes
    assert hub_reset.count("cdn") == 1
    sha256 = hashlib.sha256(data).hexdigest()
    assert pulpcore_bindings.ArtifactsApi.list(sha256=sha256).count == 1
    commit = hub_reset.commit_sha(MODEL_ID, "main")
    units = hugging_face_bindings.ContentHuggingFaceApi.list(commit=commit, path="big.bin")
    assert units.count == 1


@pytest.mark.parametrize(
    "fault,target,path",
    [
        ("not_json", "api", f"api/models/{MODEL_ID}/tree/main"),
        ("not_json", "api", f"api/models/{MODEL_ID}/revision/main"),
        ("redirect_loop", "resolve", f"{MODEL_ID}/resolve/main/config.json"),
        ("redirect_loop", "cdn", f"{MODEL_ID}/resolve/main/big.bin"),
        ("bad_redirect", "cdn", f"{MODEL_ID}/resolve/main/big.bin"),
    ],
)
def test_lying_upstream_is_refused(
    hf_cache_factory, hub_reset, pulpcore_bindings, fault, target, path
):
    cache = hf_cache_factory(max_retries=0)
    if target == "cdn":  # metadata first, so that only the body is a lie
        assert requests.head(f"{cache.endpoint}/{path}").status_code == 200
    hub_reset.configure(fault=fault, fault_target=target)
    response = requests.get(f"{cache.endpoint}/{path}", timeout=60, allow_redirects=False)
    assert response.status_code == 502, response.text
    assert response.headers["X-Error-Code"] == "UpstreamUnavailable"
    assert "Location" not in response.headers

    hub_reset.configure(fault=None)
    recovered = requests.get(f"{cache.endpoint}/{path}")
    assert recovered.status_code == 200
    if "resolve" in path:
        expected = hub_reset.file_bytes(MODEL_ID, path.rsplit("/", 1)[1])
        assert recovered.content == expected
    else:
        assert recovered.json()


def test_stalled_body_times_out_and_is_not_stored(hf_cache_factory, hub_reset):
    """A body that stops flowing hits the remote's sock_read_timeout; nothing is kept."""
    cache = hf_cache_factory(max_retries=0, sock_read_timeout=2)
    url = resolve_url(cache.endpoint, "big.bin")
    data = hub_reset.file_bytes(MODEL_ID, "big.bin")
    assert requests.head(url).status_code == 200
    hub_reset.configure(fault="slow", fault_target="cdn", latency=15, fault_count=1)
    started = time.monotonic()
    try:
        received = requests.get(url, timeout=60).content
    except requests.exceptions.RequestException:
        received = None
    assert received != data
    assert time.monotonic() - started < 12
    hub_reset.configure(fault=None, latency=0)
    again = requests.get(url)
    assert again.headers["X-Pulp-Cache"] == "miss"
    assert again.content == data
