"""pulpcore's orphan cleanup (scheduled daily) spares what a remote keeps in its cache.

A file pulled through a distribution without a repository is in no repository version: for
pulpcore it is an orphan. It is the cache's all the same, and must still be served, with no
upstream request, after orphan cleanup ran.
"""

import hashlib

import requests

from pulp_hugging_face.tests.functional.fake_hub import SHARDED_MODEL_ID

# One file per test: remotes of other test modules are deleted when their module ends, so in
# this module only the test's own remote keeps its file.
KEPT = "model-00007-of-00120.safetensors"
DROPPED = "model-00008-of-00120.safetensors"


def facts(hub, filename):
    return hub.repo(SHARDED_MODEL_ID)["files"]["A"][filename]


def get(endpoint, hub, filename):
    response = requests.get(f"{endpoint}/{SHARDED_MODEL_ID}/resolve/main/{filename}")
    assert response.status_code == 200, response.headers
    assert hashlib.sha256(response.content).hexdigest() == facts(hub, filename)["sha256"]


def units(bindings, filename):
    """The stored units of `filename` (one per distinct bytes)."""
    found = bindings.ContentHuggingFaceApi.list(repo_id=SHARDED_MODEL_ID, path=filename)
    return {u.sha256: u.pulp_href for u in found.results}


def clean_up_orphans(pulpcore_bindings, monitor_task):
    """What pulpcore's "Clean up stale content periodically" does, without its day of grace."""
    task = pulpcore_bindings.OrphansCleanupApi.cleanup({"orphan_protection_time": 0}).task
    return monitor_task(task)


def test_a_pulled_file_in_no_repository_version_survives_orphan_cleanup(
    hf_cache_factory, hugging_face_bindings, pulpcore_bindings, monitor_task, hub_reset
):
    cache = hf_cache_factory()  # a remote and no repository: nothing lands in a version
    get(cache.endpoint, hub_reset, KEPT)
    sha256 = facts(hub_reset, KEPT)["sha256"]
    unit = units(hugging_face_bindings, KEPT)[sha256]

    clean_up_orphans(pulpcore_bindings, monitor_task)

    assert units(hugging_face_bindings, KEPT).get(sha256) == unit
    hub_reset.reset()
    get(cache.endpoint, hub_reset, KEPT)
    assert hub_reset.count() == 0, hub_reset.stats()["requests"]


def test_a_file_kept_only_by_a_deleted_remote_goes_with_orphan_cleanup(
    hf_cache_factory, hugging_face_bindings, pulpcore_bindings, monitor_task, hub_reset
):
    cache = hf_cache_factory()
    get(cache.endpoint, hub_reset, DROPPED)
    sha256 = facts(hub_reset, DROPPED)["sha256"]
    assert sha256 in units(hugging_face_bindings, DROPPED)
    # The bindings wait for the deletion tasks.
    hugging_face_bindings.DistributionsHuggingFaceApi.delete(cache.distribution.pulp_href)
    hugging_face_bindings.RemotesHuggingFaceApi.delete(cache.remote.pulp_href)

    clean_up_orphans(pulpcore_bindings, monitor_task)

    assert sha256 not in units(hugging_face_bindings, DROPPED)
