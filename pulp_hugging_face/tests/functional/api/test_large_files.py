"""A large cold file (72 MiB, above `pullthrough.EARLY_END_SIZE`) is handed out whole once its
bytes are checked, while it is being stored; never before, and never twice from upstream. A
range far ahead of its download is asked upstream on its own (`pullthrough.range_apart`)."""

import hashlib
import time
from typing import NamedTuple

import pytest
import requests

from pulp_hugging_face.tests.functional.fake_hub import SCALE_MODEL_ID
from pulp_hugging_face.tests.functional.fake_hub.repos import LARGE_FILE, LARGE_FILE_SIZE
from pulp_hugging_face.tests.functional.multihost import cdn_requests_for


class Large(NamedTuple):
    url: str  # the large file's resolve URL through a new cache
    digest: str
    remote: str  # the cache's remote (href)


@pytest.fixture
def large(hf_cache_factory, hub_reset):
    cache = hf_cache_factory(max_retries=0)
    url = f"{cache.endpoint}/{SCALE_MODEL_ID}/resolve/main/{LARGE_FILE}"
    digest = hub_reset.repo(SCALE_MODEL_ID)["files"]["A"][LARGE_FILE]["sha256"]
    return Large(url, digest, cache.remote.pulp_href)


def sha256_of(response):
    hasher = hashlib.sha256()
    size = 0
    for chunk in response.iter_content(1024 * 1024):
        hasher.update(chunk)
        size += len(chunk)
    return hasher.hexdigest(), size


def stored_units(bindings, digest):
    return bindings.ContentHuggingFaceApi.list(
        repo_id=SCALE_MODEL_ID, path=LARGE_FILE, sha256=digest
    ).count


def test_a_large_cold_file_arrives_whole_and_is_stored_once(
    large, hub_reset, hugging_face_bindings
):
    url, digest, _ = large
    with requests.get(url, stream=True, timeout=120) as cold:
        assert cold.status_code == 200
        assert cold.headers["X-Pulp-Cache"] == "miss"
        assert sha256_of(cold) == (digest, LARGE_FILE_SIZE)

    # At once, while it may still be being stored: the same bytes, and no second download.
    with requests.get(url, stream=True, timeout=120) as again:
        assert again.status_code == 200
        assert sha256_of(again) == (digest, LARGE_FILE_SIZE)
    deadline = time.monotonic() + 60
    while not stored_units(hugging_face_bindings, digest):
        assert time.monotonic() < deadline, "the large file was not stored"
        time.sleep(0.2)
    hub_reset.reset()
    with requests.get(url, stream=True, timeout=120) as warm:
        assert warm.headers["X-Pulp-Cache"] == "hit"
        assert sha256_of(warm) == (digest, LARGE_FILE_SIZE)
    assert hub_reset.count() == 0
    assert stored_units(hugging_face_bindings, digest) == 1


@pytest.mark.parametrize("fault", ["corrupt", "short"])
def test_a_broken_large_file_never_arrives_whole(large, hub_reset, hugging_face_bindings, fault):
    url, digest, _ = large
    assert requests.head(url).status_code == 200  # metadata known before the body breaks
    hub_reset.configure(fault=fault, fault_target="cdn", fault_count=1)
    received = None
    try:
        with requests.get(url, stream=True, timeout=120) as broken:
            received = sha256_of(broken)
    except requests.exceptions.RequestException:
        pass
    assert received is None or received[1] < LARGE_FILE_SIZE

    hub_reset.configure(fault=None)
    with requests.get(url, stream=True, timeout=120) as good:
        assert sha256_of(good) == (digest, LARGE_FILE_SIZE)
    deadline = time.monotonic() + 60
    while not stored_units(hugging_face_bindings, digest):
        assert time.monotonic() < deadline, "the large file was not stored"
        time.sleep(0.2)
    units = hugging_face_bindings.ContentHuggingFaceApi.list(
        repo_id=SCALE_MODEL_ID, path=LARGE_FILE
    )
    assert [unit.sha256 for unit in units.results] == [digest]


# --- ranges of a large cold file: near ones from the download, far ones from upstream ----------

TAIL = 65536


def body_requests_of(*requests):
    """(Range header, status) pairs of CDN requests, in a stable order."""
    return sorted(requests, key=repr)


def body_requests(hub, digest):
    """The CDN requests for the large file."""
    return body_requests_of(
        *((e["range"], e["status"]) for e in cdn_requests_for(hub.stats(), digest))
    )


def wait_until_held(bindings, remote):
    """Until the cache's remote holds the file (its download ended and it was stored)."""
    deadline = time.monotonic() + 90
    while not bindings.RemotesHuggingFaceApi.read(remote).file_count:
        assert time.monotonic() < deadline, "the large file was not stored"
        time.sleep(0.2)


def test_the_end_of_a_large_cold_file_comes_at_once_behind_a_slow_hub(
    large, hub_reset, hugging_face_bindings
):
    """A parquet footer or a last tensor, read first: the download would reach it after the
    client's read timeout, so the range is asked upstream on its own, and stored nothing."""
    url, digest, remote = large
    data = hub_reset.file_bytes(SCALE_MODEL_ID, LARGE_FILE)
    hub_reset.configure(body_rate=LARGE_FILE_SIZE / 15)  # the whole file takes 15 s
    started = time.monotonic()
    tail = requests.get(url, headers={"Range": f"bytes=-{TAIL}"}, timeout=10)
    answered_in = time.monotonic() - started
    assert tail.status_code == 206
    assert tail.headers["Content-Range"] == (
        f"bytes {LARGE_FILE_SIZE - TAIL}-{LARGE_FILE_SIZE - 1}/{LARGE_FILE_SIZE}"
    )
    assert tail.content == data[-TAIL:]
    assert answered_in < 5, f"the tail took {answered_in:.1f} s"

    # The whole file was fetched meanwhile, once, and stored as usual.
    wait_until_held(hugging_face_bindings, remote)
    hub_reset.configure(body_rate=None)
    assert body_requests(hub_reset, digest) == body_requests_of(
        (None, 200), (f"bytes={LARGE_FILE_SIZE - TAIL}-{LARGE_FILE_SIZE - 1}", 206)
    )
    hub_reset.reset()
    with requests.get(url, stream=True, timeout=120) as warm:
        assert warm.headers["X-Pulp-Cache"] == "hit"
        assert sha256_of(warm) == (digest, LARGE_FILE_SIZE)
    assert hub_reset.count() == 0


def test_a_range_the_download_is_about_to_reach_asks_nothing_more_upstream(
    large, hub_reset, hugging_face_bindings
):
    url, digest, remote = large
    data = hub_reset.file_bytes(SCALE_MODEL_ID, LARGE_FILE)
    head = requests.get(url, headers={"Range": "bytes=1000-66535"}, timeout=30)
    assert head.status_code == 206
    assert head.content == data[1000:66536]
    wait_until_held(hugging_face_bindings, remote)
    assert body_requests(hub_reset, digest) == body_requests_of((None, 200))


def test_an_upstream_that_ignores_a_range_is_not_passed_on(large, hub_reset, hugging_face_bindings):
    """The CDN answers the whole file (200) to the range asked apart: none of it reaches the
    client, which gets its range from the download instead."""
    url, digest, remote = large
    data = hub_reset.file_bytes(SCALE_MODEL_ID, LARGE_FILE)
    hub_reset.configure(fault="ignore_range", fault_target="cdn")
    tail = requests.get(url, headers={"Range": f"bytes=-{TAIL}"}, timeout=60)
    assert tail.status_code == 206
    assert tail.content == data[-TAIL:]
    wait_until_held(hugging_face_bindings, remote)
    assert body_requests(hub_reset, digest) == body_requests_of(
        (None, 200), (f"bytes={LARGE_FILE_SIZE - TAIL}-{LARGE_FILE_SIZE - 1}", 200)
    )
