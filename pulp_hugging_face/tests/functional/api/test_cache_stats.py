"""`cache_stats`: what a remote's cache (or the domain's) holds, counted in the database."""

import time

import pytest
import requests

from pulp_hugging_face.tests.functional.fake_hub import DATASET_ID, MODEL_ID


@pytest.fixture
def api_get(bindings_cfg):
    def _get(path, auth=None, **params):
        answer = requests.get(
            bindings_cfg.host + path,
            params=params,
            auth=auth or (bindings_cfg.username, bindings_cfg.password),
            timeout=60,
        )
        return answer

    return _get


def pull(cache, prefix, repo_id, path, revision="main"):
    answer = requests.get(f"{cache.endpoint}/{prefix}{repo_id}/resolve/{revision}/{path}")
    assert answer.status_code == 200, answer.text
    return answer


def stats_of(api_get, remote, **params):
    answer = api_get(f"{remote.pulp_href}cache_stats/", **params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_new_remote_holds_nothing(hf_remote_factory, api_get):
    stats = stats_of(api_get, hf_remote_factory())
    assert stats == {
        "remote_count": 1,
        "file_count": 0,
        "repo_count": 0,
        "bytes": 0,
        "stored_bytes": 0,
        "deduplicated_bytes": 0,
        "facts": {"files_known": 0, "files_missing": 0, "revisions": 0, "api_answers": 0},
        "top_repos": [],
        "requests": {"hit": 0, "miss": 0, "stale": 0, "total": 0, "hit_ratio": None},
        "bytes_served": {"storage": 0, "upstream": 0},
        "bytes_saved": 0,
        "counting_since": None,
    }


FLUSH = 6  # seconds: each content app adds its answer counts every 5 s (access.py)


def test_hits_misses_and_bytes_saved_are_counted_across_content_processes(
    hf_cache_factory, api_get, fake_hub
):
    cache = hf_cache_factory()
    size = len(fake_hub.file_bytes(MODEL_ID, "config.json"))
    pull(cache, "", MODEL_ID, "config.json")  # cold: the bytes come from the hub
    warm = 6  # the test Pulp's content processes share them: the counts are summed
    for _ in range(warm):
        pull(cache, "", MODEL_ID, "config.json")
    heads = [
        requests.head(f"{cache.endpoint}/{MODEL_ID}/resolve/main/config.json") for _ in range(3)
    ]
    assert all(h.headers["X-Pulp-Cache"] == "hit" for h in heads)
    time.sleep(FLUSH)

    stats = stats_of(api_get, cache.remote)

    assert stats["requests"] == {
        "hit": warm + 3,
        "miss": 1,
        "stale": 0,
        "total": warm + 4,
        "hit_ratio": round((warm + 3) / (warm + 4), 4),
    }
    assert stats["bytes_served"] == {"storage": warm * size, "upstream": size}
    assert stats["bytes_saved"] == warm * size
    assert stats["counting_since"] is not None


def test_a_range_counts_the_bytes_it_sent(hf_cache_factory, api_get):
    cache = hf_cache_factory()
    pull(cache, "", MODEL_ID, "config.json")
    url = f"{cache.endpoint}/{MODEL_ID}/resolve/main/config.json"
    ranged = requests.get(url, headers={"Range": "bytes=10-109"})
    assert ranged.status_code == 206 and len(ranged.content) == 100
    time.sleep(FLUSH)

    served = stats_of(api_get, cache.remote)["bytes_served"]

    assert served["storage"] == 100


def test_stats_count_only_the_remotes_own_files(hf_cache_factory, api_get, fake_hub):
    first, second = hf_cache_factory(), hf_cache_factory()
    pull(first, "", MODEL_ID, "config.json")
    pull(second, "", MODEL_ID, "config.json")
    pull(second, "datasets/", DATASET_ID, "README.md")
    config = len(fake_hub.file_bytes(MODEL_ID, "config.json"))
    readme = len(fake_hub.file_bytes(DATASET_ID, "README.md", revision="main"))
    one, two = stats_of(api_get, first.remote), stats_of(api_get, second.remote)
    assert (one["file_count"], one["repo_count"], one["bytes"]) == (1, 1, config)
    assert (two["file_count"], two["repo_count"], two["bytes"]) == (2, 2, config + readme)


def test_top_repos_are_ordered_by_bytes(hf_cache_factory, api_get, fake_hub):
    cache = hf_cache_factory()
    model_files = ("config.json", "modules.json", "config_sentence_transformers.json")
    for path in model_files:
        pull(cache, "", MODEL_ID, path)
    pull(cache, "datasets/", DATASET_ID, "README.md")
    model_bytes = sum(len(fake_hub.file_bytes(MODEL_ID, p)) for p in model_files)
    dataset_bytes = len(fake_hub.file_bytes(DATASET_ID, "README.md"))
    expected = sorted(
        [
            {"repo_type": "model", "repo_id": MODEL_ID, "file_count": 3, "bytes": model_bytes},
            {
                "repo_type": "dataset",
                "repo_id": DATASET_ID,
                "file_count": 1,
                "bytes": dataset_bytes,
            },
        ],
        key=lambda repo: -repo["bytes"],
    )
    assert stats_of(api_get, cache.remote)["top_repos"] == expected
    assert stats_of(api_get, cache.remote, top=1)["top_repos"] == expected[:1]


def test_identical_bytes_at_two_commits_are_stored_once(hf_cache_factory, api_get, fake_hub):
    repo = fake_hub.repo(MODEL_ID)
    commits = repo["commits"]
    # A file whose bytes did not change between two commits: two units, one artifact.
    path, first, second = next(
        (path, a, b)
        for a in commits
        for b in commits
        if a < b
        for path, facts in repo["files"][a].items()
        if repo["files"][b].get(path, {}).get("sha256") == facts["sha256"]
    )
    cache = hf_cache_factory()
    pull(cache, "", MODEL_ID, path, revision=commits[first])
    pull(cache, "", MODEL_ID, path, revision=commits[second])
    size = repo["files"][first][path]["size"]
    stats = stats_of(api_get, cache.remote)
    assert (stats["file_count"], stats["bytes"], stats["stored_bytes"]) == (2, 2 * size, size)
    assert stats["deduplicated_bytes"] == size


def test_files_the_hub_said_are_missing_are_counted(hf_cache_factory, api_get):
    cache = hf_cache_factory()
    missing = requests.head(f"{cache.endpoint}/{MODEL_ID}/resolve/main/no-such-file.json")
    assert missing.headers.get("X-Error-Code") == "EntryNotFound"
    assert requests.head(f"{cache.endpoint}/{MODEL_ID}/resolve/main/config.json").ok
    facts = stats_of(api_get, cache.remote)["facts"]
    assert (facts["files_known"], facts["files_missing"]) == (1, 1)
    assert facts["revisions"] == 1


@pytest.mark.parametrize("top", ["0", "101", "many"])
def test_top_outside_1_to_100_is_refused(hf_remote_factory, api_get, top):
    answer = api_get(f"{hf_remote_factory().pulp_href}cache_stats/", top=top)
    assert answer.status_code == 400
    assert "top" in answer.json()


def test_domain_stats_include_every_remote(hf_cache_factory, api_get, bindings_cfg):
    cache = hf_cache_factory()
    pull(cache, "", MODEL_ID, "config.json")
    answer = api_get("/pulp/api/v3/hugging_face/cache_stats/")
    assert answer.status_code == 200, answer.text
    domain, one = answer.json(), stats_of(api_get, cache.remote)
    assert domain["remote_count"] >= 1
    assert domain["file_count"] >= one["file_count"] == 1
    assert domain["bytes"] >= one["bytes"]


def test_domain_stats_cover_only_remotes_the_user_may_view(hf_cache_factory, api_get, gen_user):
    cache = hf_cache_factory()
    pull(cache, "", MODEL_ID, "config.json")
    nobody = gen_user()
    viewer = gen_user(
        object_roles=[("hugging_face.huggingfaceremote_viewer", cache.remote.pulp_href)]
    )
    path = "/pulp/api/v3/hugging_face/cache_stats/"
    nothing = api_get(path, auth=(nobody.username, nobody.password)).json()
    assert (nothing["remote_count"], nothing["file_count"]) == (0, 0)
    seen = api_get(path, auth=(viewer.username, viewer.password)).json()
    assert (seen["remote_count"], seen["file_count"]) == (1, 1)


def test_remote_stats_need_view_permission(hf_remote_factory, api_get, gen_user):
    remote = hf_remote_factory()
    nobody = gen_user()
    answer = api_get(f"{remote.pulp_href}cache_stats/", auth=(nobody.username, nobody.password))
    assert answer.status_code in (403, 404)
