"""A warm answer comes from the content process's memory, and every change applies at once.

Each test warms a distribution (so its distribution, domain, facts and stored file are
remembered), changes something through the REST API, and checks the very next request.
"""

import time

import requests

from pulp_hugging_face.tests.functional.fake_hub import MODEL_ID

DEAD_HUB = "http://127.0.0.1:9"  # nothing listens on the discard port


def resolve_url(endpoint, name="config.json", revision="main"):
    return f"{endpoint}/{MODEL_ID}/resolve/{revision}/{name}"


def warm(endpoint, name="config.json"):
    for _ in range(3):  # more than once: the later ones are answered from memory
        assert requests.get(resolve_url(endpoint, name)).status_code == 200
        assert requests.head(resolve_url(endpoint, name)).status_code == 200


def update(hugging_face_bindings, monitor_task, distribution, **changes):
    # Returns once the update task has finished.
    hugging_face_bindings.DistributionsHuggingFaceApi.partial_update(
        distribution.pulp_href, changes
    )


def test_a_guard_set_on_a_warm_distribution_applies_to_the_next_request(
    hf_cache_factory, hf_token_guard_factory, hugging_face_bindings, monitor_task, hub_reset
):
    cache = hf_cache_factory()
    warm(cache.endpoint)
    guard = hf_token_guard_factory(["hf_memory_guard_token"])
    update(hugging_face_bindings, monitor_task, cache.distribution, content_guard=guard.pulp_href)
    assert requests.head(resolve_url(cache.endpoint)).status_code == 401
    assert requests.get(resolve_url(cache.endpoint)).status_code == 401
    allowed = {"Authorization": "Bearer hf_memory_guard_token"}
    assert requests.get(resolve_url(cache.endpoint), headers=allowed).status_code == 200


def test_a_guard_removed_from_a_warm_distribution_opens_it_at_once(
    hf_cache_factory, hf_token_guard_factory, bindings_cfg, monitor_task, hub_reset
):
    guard = hf_token_guard_factory(["hf_memory_guard_token"])
    cache = hf_cache_factory(content_guard=guard.pulp_href)
    allowed = {"Authorization": "Bearer hf_memory_guard_token"}
    for _ in range(3):
        assert requests.get(resolve_url(cache.endpoint), headers=allowed).status_code == 200
    # pulp-glue leaves out a None; the REST API takes null for "no guard".
    response = requests.patch(
        bindings_cfg.host + cache.distribution.pulp_href,
        json={"content_guard": None},
        auth=(bindings_cfg.username, bindings_cfg.password),
    )
    response.raise_for_status()
    assert monitor_task(response.json()["task"]).state == "completed"
    assert requests.head(resolve_url(cache.endpoint)).status_code == 200


def test_a_warm_distribution_moved_to_another_remote_answers_only_through_it(
    hf_cache_factory, hf_remote_factory, hugging_face_bindings, monitor_task, hub_reset
):
    cache = hf_cache_factory()
    warm(cache.endpoint)
    dead = hf_remote_factory(url=DEAD_HUB, metadata_timeout=2)
    update(hugging_face_bindings, monitor_task, cache.distribution, remote=dead.pulp_href)
    # The first remote's facts and file are not the new remote's: its hub must be asked.
    head = requests.head(resolve_url(cache.endpoint))
    assert head.status_code in (502, 504)
    assert requests.get(resolve_url(cache.endpoint)).status_code in (502, 504)


def test_a_deleted_distribution_is_gone_for_the_next_request(
    hf_cache_factory, hugging_face_bindings, monitor_task, hub_reset
):
    cache = hf_cache_factory()
    warm(cache.endpoint)
    hugging_face_bindings.DistributionsHuggingFaceApi.delete(cache.distribution.pulp_href)
    assert requests.head(resolve_url(cache.endpoint)).status_code == 404
    assert requests.get(resolve_url(cache.endpoint)).status_code == 404


def test_a_warm_distribution_moved_to_another_base_path_answers_there_only(
    hf_cache_factory, hugging_face_bindings, monitor_task, hub_reset
):
    cache = hf_cache_factory()
    warm(cache.endpoint)
    old_base_path = cache.distribution.base_path
    new_base_path = f"{old_base_path}-moved"
    update(hugging_face_bindings, monitor_task, cache.distribution, base_path=new_base_path)
    moved = cache.endpoint.replace(old_base_path, new_base_path)
    assert requests.head(resolve_url(cache.endpoint)).status_code == 404
    assert requests.head(resolve_url(moved)).status_code == 200


def test_a_remote_whose_metadata_ttl_drops_asks_upstream_again(
    hf_cache_factory, hugging_face_bindings, monitor_task, hub_reset
):
    cache = hf_cache_factory(metadata_ttl=3600)
    warm(cache.endpoint)
    hub_reset.reset()
    assert requests.head(resolve_url(cache.endpoint)).status_code == 200
    assert hub_reset.count() == 0  # a fresh revision answer, from memory
    remotes = hugging_face_bindings.RemotesHuggingFaceApi
    remotes.partial_update(cache.remote.pulp_href, {"metadata_ttl": 1})
    time.sleep(1.5)
    assert requests.head(resolve_url(cache.endpoint)).status_code == 200
    assert hub_reset.count() >= 1  # `main` was older than the new TTL: asked again


def test_a_file_removed_from_the_repository_is_recorded_again_when_served(
    hf_cache_factory,
    hf_repository_factory,
    hugging_face_bindings,
    monitor_task,
    hub_reset,
):
    repositories = hugging_face_bindings.RepositoriesHuggingFaceApi
    repository = hf_repository_factory()
    cache = hf_cache_factory(repository=repository.pulp_href)
    warm(cache.endpoint)
    latest = wait_for_version(repositories, repository, 1)
    content = hugging_face_bindings.ContentHuggingFaceApi.list(
        repository_version=latest.latest_version_href
    ).results
    assert [c.path for c in content] == ["config.json"]
    repositories.ctx.call(
        "repositories_hugging_face_hugging_face_modify",
        parameters={"hugging_face_hugging_face_repository_href": repository.pulp_href},
        body={"remove_content_units": [content[0].pulp_href]},
    )
    assert requests.get(resolve_url(cache.endpoint)).status_code == 200
    latest = wait_for_version(repositories, repository, 3)
    again = hugging_face_bindings.ContentHuggingFaceApi.list(
        repository_version=latest.latest_version_href
    ).results
    assert [c.path for c in again] == ["config.json"]


def wait_for_version(repositories, repository, number, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        latest = repositories.read(repository.pulp_href)
        if latest.latest_version_href.endswith(f"/versions/{number}/"):
            return latest
        assert time.monotonic() < deadline, latest.latest_version_href
        time.sleep(0.3)
