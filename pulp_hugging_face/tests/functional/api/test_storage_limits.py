"""Storage limits of a remote: least recently used files are evicted, frozen versions stay, and a
file that can never fit is a 507."""

import hashlib
import os
import subprocess
import sys
import time
import uuid

import pytest
import requests

from pulp_hugging_face.tests.functional.fake_hub import SHARDED_MODEL_ID

FLUSH = 6  # seconds: access.py writes last access every 5 s
SHARD = "model-{:05d}-of-00120.safetensors"

DOWNLOAD_ERROR = """
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import HfHubHTTPError
try:
    hf_hub_download({repo_id!r}, {filename!r})
    result = {{"error": None}}
except HfHubHTTPError as exc:
    result = {{"error": type(exc).__name__, "status": exc.response.status_code, "text": str(exc)}}
"""


def shard(i):
    return SHARD.format(i)


def url(endpoint, filename):
    return f"{endpoint}/{SHARDED_MODEL_ID}/resolve/main/{filename}"


def facts(hub, filename):
    return hub.repo(SHARDED_MODEL_ID)["files"]["A"][filename]


def get(endpoint, filename, hub):
    response = requests.get(url(endpoint, filename))
    assert response.status_code == 200, response.headers
    assert hashlib.sha256(response.content).hexdigest() == facts(hub, filename)["sha256"]


def evict(bindings, remote):
    """POST .../evict/; returns the finished task."""
    task = bindings.RemotesHuggingFaceApi.ctx.call(
        "remotes_hugging_face_hugging_face_evict",
        parameters={"hugging_face_hugging_face_remote_href": remote.pulp_href},
    )
    assert task["state"] == "completed", task
    return task


def reports(task):
    return {r["code"]: r["done"] for r in task["progress_reports"]}


def read(bindings, remote):
    return bindings.RemotesHuggingFaceApi.read(remote.pulp_href)


def wait_for(check, timeout=60, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def evict_all_but_shard_2(cache, bindings, hub):
    """Shard 2 used last, a max_size that holds it alone, an eviction: shard 2 is all that is
    left (and the hub's request count starts again)."""
    time.sleep(FLUSH)
    assert requests.head(url(cache.endpoint, shard(2))).status_code == 200
    time.sleep(FLUSH)
    bindings.RemotesHuggingFaceApi.partial_update(
        cache.remote.pulp_href, {"max_size": facts(hub, shard(2))["size"]}
    )
    evict(bindings, cache.remote)
    assert read(bindings, cache.remote).file_count == 1
    hub.reset()


def test_eviction_keeps_the_most_recently_used_files_under_max_size(
    hf_cache_factory, hugging_face_bindings, hub_reset
):
    cache = hf_cache_factory()
    names = [shard(i) for i in range(1, 6)]
    for name in names:
        get(cache.endpoint, name, hub_reset)
    time.sleep(FLUSH)
    for name in names[:2]:  # asked for again: now 3, 4, 5 are the least recently used
        assert requests.head(url(cache.endpoint, name)).status_code == 200
    time.sleep(FLUSH)
    sizes = {name: facts(hub_reset, name)["size"] for name in names}
    assert read(hugging_face_bindings, cache.remote).used_bytes == sum(sizes.values())
    limit = sizes[names[0]] + sizes[names[1]] + sizes[names[4]]
    hugging_face_bindings.RemotesHuggingFaceApi.partial_update(
        cache.remote.pulp_href, {"max_size": limit}
    )

    task = evict(hugging_face_bindings, cache.remote)

    remote = read(hugging_face_bindings, cache.remote)
    assert (remote.used_bytes, remote.file_count) == (limit, 3)
    assert remote.last_eviction is not None
    # The scheduled eviction may have come first; between them, two files went.
    assert reports(task)["evict.files"] in (0, 2)
    hub_reset.reset()
    for name in (names[0], names[1], names[4]):
        get(cache.endpoint, name, hub_reset)
    assert hub_reset.count("cdn") == 0, hub_reset.stats()["cdn_requests"]


def test_an_evicted_file_is_pulled_through_again(
    hf_cache_factory, hugging_face_bindings, hub_reset
):
    cache = hf_cache_factory()
    for i in (1, 2):
        get(cache.endpoint, shard(i), hub_reset)
    evict_all_but_shard_2(cache, hugging_face_bindings, hub_reset)

    get(cache.endpoint, shard(1), hub_reset)

    assert hub_reset.count("cdn") == 1, hub_reset.stats()["cdn_requests"]
    hub_reset.reset()
    get(cache.endpoint, shard(1), hub_reset)
    assert hub_reset.count("cdn") == 0


def test_a_small_file_answered_from_memory_is_not_answered_once_evicted(
    hf_cache_factory, hugging_face_bindings, hub_reset
):
    cache = hf_cache_factory()
    get(cache.endpoint, shard(2), hub_reset)
    for _ in range(3):  # warm: its bytes are in the content process's memory now
        get(cache.endpoint, shard(1), hub_reset)
    evict_all_but_shard_2(cache, hugging_face_bindings, hub_reset)

    get(cache.endpoint, shard(1), hub_reset)

    assert hub_reset.count("cdn") == 1, hub_reset.stats()["cdn_requests"]


def test_a_remote_with_limits_is_evicted_on_a_schedule(
    hf_cache_factory,
    hugging_face_bindings,
    hub_reset,
    pulpcore_bindings,
    bindings_cfg,
    monitor_task,
):
    cache = hf_cache_factory()
    for i in (1, 2, 3):
        get(cache.endpoint, shard(i), hub_reset)
    schedule_name = f"Evict files of Hugging Face remote {cache.remote.pulp_href.split('/')[-2]}"
    assert pulpcore_bindings.TaskSchedulesApi.list(name=schedule_name).count == 0

    hugging_face_bindings.RemotesHuggingFaceApi.partial_update(
        cache.remote.pulp_href, {"max_size": 0}
    )

    schedules = pulpcore_bindings.TaskSchedulesApi.list(name=schedule_name).results
    assert [s.task_name for s in schedules] == [
        "pulp_hugging_face.app.tasks.eviction.scheduled_eviction"
    ]
    # No evict call: the worker dispatches the schedule, and the files go.
    wait_for(
        lambda: read(hugging_face_bindings, cache.remote).file_count == 0,
        timeout=90,
        what="the scheduled eviction",
    )
    # pulp-glue leaves out null fields: PATCH the JSON null itself.
    response = requests.patch(
        bindings_cfg.host + cache.remote.pulp_href,
        json={"max_size": None},
        auth=(bindings_cfg.username, bindings_cfg.password),
    )
    assert monitor_task(response.json()["task"]).state == "completed"
    assert read(hugging_face_bindings, cache.remote).max_size is None
    assert pulpcore_bindings.TaskSchedulesApi.list(name=schedule_name).count == 0


def backdate(remote_href, filename, days):
    """Make a file look unused for `days` (its pull and its last access), in the server's DB."""
    code = (
        "from datetime import timedelta; from django.utils import timezone;"
        "from pulp_hugging_face.app.models import FileMetadata;"
        "from pulpcore.plugin.models import RemoteArtifact;"
        f"then = timezone.now() - timedelta(days={days});"
        f"FileMetadata.objects.filter(remote_id={remote_href.split('/')[-2]!r},"
        f" path={filename!r}).update(last_access=then);"
        f"RemoteArtifact.objects.filter(remote_id={remote_href.split('/')[-2]!r},"
        f" url__endswith={'/' + filename!r}).update(pulp_created=then)"
    )
    manager = os.path.join(os.path.dirname(sys.executable), "pulpcore-manager")
    subprocess.run([manager, "shell", "-c", code], check=True, capture_output=True, timeout=120)


@pytest.mark.local_pulp
def test_files_unused_for_max_unused_age_are_evicted(
    hf_cache_factory, hugging_face_bindings, hub_reset
):
    cache = hf_cache_factory()
    for i in (1, 2):
        get(cache.endpoint, shard(i), hub_reset)
    time.sleep(FLUSH)
    backdate(cache.remote.pulp_href, shard(1), days=3)
    hugging_face_bindings.RemotesHuggingFaceApi.partial_update(
        cache.remote.pulp_href, {"max_unused_age": 2}
    )

    evict(hugging_face_bindings, cache.remote)

    remote = read(hugging_face_bindings, cache.remote)
    assert (remote.file_count, remote.used_bytes) == (1, facts(hub_reset, shard(2))["size"])
    hub_reset.reset()
    get(cache.endpoint, shard(2), hub_reset)
    assert hub_reset.count("cdn") == 0


def latest_paths(bindings, repository_href):
    repository = bindings.RepositoriesHuggingFaceApi.read(repository_href)
    content = bindings.ContentHuggingFaceApi.list(
        repository_version=repository.latest_version_href, limit=1000
    )
    return repository.latest_version_href, sorted(c.path for c in content.results)


@pytest.fixture
def frozen_cache(
    hf_cache_factory,
    hf_repository_factory,
    hugging_face_bindings,
    gen_object_with_cleanup,
    hub_reset,
):
    """A distribution recording pulls in a repository (shards 1-5), and a second distribution
    serving the version that had shards 1-3 (a frozen version)."""
    repository = hf_repository_factory()
    cache = hf_cache_factory(repository=repository.pulp_href)
    frozen = [shard(i) for i in (1, 2, 3)]
    for name in frozen:
        get(cache.endpoint, name, hub_reset)
    version, _ = wait_for(
        lambda: (r := latest_paths(hugging_face_bindings, repository.pulp_href))[1] == frozen and r,
        what="the repository version with three files",
    )
    gen_object_with_cleanup(
        hugging_face_bindings.DistributionsHuggingFaceApi,
        {"name": str(uuid.uuid4()), "base_path": str(uuid.uuid4()), "repository_version": version},
    )
    for i in (4, 5):
        get(cache.endpoint, shard(i), hub_reset)
    wait_for(
        lambda: len(latest_paths(hugging_face_bindings, repository.pulp_href)[1]) == 5,
        what="the repository version with five files",
    )
    cache.repository, cache.frozen_version, cache.frozen = repository, version, frozen
    return cache


def test_a_frozen_version_survives_eviction(frozen_cache, hugging_face_bindings, hub_reset):
    cache = frozen_cache
    hugging_face_bindings.RemotesHuggingFaceApi.partial_update(
        cache.remote.pulp_href, {"max_size": 0}
    )
    evict(hugging_face_bindings, cache.remote)

    remote = read(hugging_face_bindings, cache.remote)
    assert remote.file_count == 3
    assert remote.used_bytes == sum(facts(hub_reset, n)["size"] for n in cache.frozen)
    frozen_content = hugging_face_bindings.ContentHuggingFaceApi.list(
        repository_version=cache.frozen_version
    )
    assert sorted(c.path for c in frozen_content.results) == cache.frozen
    hub_reset.reset()
    for name in cache.frozen:
        get(cache.endpoint, name, hub_reset)
    assert hub_reset.count("cdn") == 0


def test_evicted_files_leave_the_recording_repository_through_a_new_version(
    frozen_cache, hugging_face_bindings
):
    cache = frozen_cache
    before, _ = latest_paths(hugging_face_bindings, cache.repository.pulp_href)
    hugging_face_bindings.RemotesHuggingFaceApi.partial_update(
        cache.remote.pulp_href, {"max_size": 0}
    )
    evict(hugging_face_bindings, cache.remote)

    after, paths = latest_paths(hugging_face_bindings, cache.repository.pulp_href)
    assert paths == cache.frozen
    assert after != before


def test_a_cold_file_that_cannot_fit_beside_frozen_files_is_a_507(
    frozen_cache, hugging_face_bindings, hub_reset
):
    cache = frozen_cache
    frozen_bytes = sum(facts(hub_reset, n)["size"] for n in cache.frozen)
    hugging_face_bindings.RemotesHuggingFaceApi.partial_update(
        cache.remote.pulp_href, {"max_size": frozen_bytes + 100}
    )
    hub_reset.reset()

    response = requests.get(url(cache.endpoint, shard(6)))

    assert response.status_code == 507
    assert f"max_size {frozen_bytes + 100}" in response.headers["X-Error-Message"]
    assert hub_reset.count("cdn") == 0


def test_a_cold_file_larger_than_max_size_is_a_507_and_nothing_is_stored(
    hf_cache_factory, hugging_face_bindings, hub_reset, hf_client
):
    cache = hf_cache_factory(max_size=1000)
    assert facts(hub_reset, shard(1))["size"] > 1000

    response = requests.get(url(cache.endpoint, shard(1)))

    assert response.status_code == 507
    assert "max_size 1000" in response.headers["X-Error-Message"]
    assert "max_size 1000" in response.json()["error"]
    assert hub_reset.count("cdn") == 0
    assert read(hugging_face_bindings, cache.remote).file_count == 0


def test_at_the_limit_the_client_gets_a_typed_507_and_small_files_are_served(
    hf_cache_factory, hub_reset, hf_client
):
    cache = hf_cache_factory(max_size=1000)

    result = hf_client(
        DOWNLOAD_ERROR.format(repo_id=SHARDED_MODEL_ID, filename=shard(2)), cache.endpoint
    )
    assert result["status"] == 507
    assert "max_size 1000" in result["text"]

    assert facts(hub_reset, "config.json")["size"] < 1000
    get(cache.endpoint, "config.json", hub_reset)
