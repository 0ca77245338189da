"""A large cold file (72 MiB, above `pullthrough.EARLY_END_SIZE`) is handed out whole once its
bytes are checked, while it is being stored; never before, and never twice from upstream."""

import hashlib
import time

import pytest
import requests

from pulp_hugging_face.tests.functional.fake_hub import SCALE_MODEL_ID
from pulp_hugging_face.tests.functional.fake_hub.repos import LARGE_FILE, LARGE_FILE_SIZE


@pytest.fixture
def large(hf_cache_factory, hub_reset):
    cache = hf_cache_factory(max_retries=0)
    url = f"{cache.endpoint}/{SCALE_MODEL_ID}/resolve/main/{LARGE_FILE}"
    digest = hub_reset.repo(SCALE_MODEL_ID)["files"]["A"][LARGE_FILE]["sha256"]
    return url, digest


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
    url, digest = large
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
    url, digest = large
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
