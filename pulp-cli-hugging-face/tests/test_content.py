"""`pulp hugging-face content list`: the files the cache stored, by Hub coordinates."""

import time

import pytest
import requests

pytestmark = pytest.mark.live

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
DATASET_ID = "fake-org/tiny-dataset"


@pytest.fixture
def pulled(pulp_cli, fake_hub):
    """A distribution of a new remote, and a function that pulls a file through it."""
    remote = pulp_cli.rest_create("remote", url=fake_hub.url)
    distribution = pulp_cli.create(
        "distribution", "--base-path", f"cli-content-{remote['name']}", "--remote", remote["name"]
    )

    def pull(prefix, repo_id, path):
        answer = requests.get(
            f"{distribution['base_url']}{prefix}{repo_id}/resolve/main/{path}", timeout=60
        )
        assert answer.status_code == 200
        return answer.headers["X-Repo-Commit"]

    pull.remote = remote
    return pull


def test_content_list_filters_by_repo_id_path_and_commit(pulp_cli, pulled):
    commit = pulled("", MODEL_ID, "config.json")
    files = pulp_cli.json(
        "hugging-face",
        "content",
        "list",
        "--repo-id",
        MODEL_ID,
        "--path",
        "config.json",
        "--commit",
        commit,
    )
    assert files, "the pulled file is not listed"
    assert {(f["repo_type"], f["repo_id"], f["path"], f["commit"]) for f in files} == {
        ("model", MODEL_ID, "config.json", commit)
    }


def test_content_list_filters_by_repo_type(pulp_cli, pulled):
    pulled("datasets/", DATASET_ID, "README.md")
    datasets = pulp_cli.json(
        "hugging-face", "content", "list", "--repo-type", "dataset", "--limit", "1000"
    )
    assert DATASET_ID in {f["repo_id"] for f in datasets}
    assert {f["repo_type"] for f in datasets} == {"dataset"}


def test_content_show_gives_the_stored_file(pulp_cli, pulled, fake_hub):
    import hashlib

    commit = pulled("", MODEL_ID, "modules.json")
    sha256 = hashlib.sha256(fake_hub.file_bytes(MODEL_ID, "modules.json")).hexdigest()
    [listed] = pulp_cli.json(
        "hugging-face", "content", "list", "--sha256", sha256, "--commit", commit
    )
    shown = pulp_cli.json("hugging-face", "content", "show", "--href", listed["pulp_href"])
    assert (shown["path"], shown["sha256"]) == ("modules.json", sha256)
    assert shown["relative_path"] == f"{MODEL_ID}/resolve/{commit}/modules.json"


def test_cache_stats_of_a_remote_count_its_stored_files(pulp_cli, pulled, fake_hub):
    pulled("", MODEL_ID, "config.json")
    pulled("", MODEL_ID, "modules.json")
    pulled("datasets/", DATASET_ID, "README.md")
    stats = pulp_cli.json("hugging-face", "cache", "stats", "--remote", pulled.remote["name"])
    model_bytes = sum(
        len(fake_hub.file_bytes(MODEL_ID, p)) for p in ("config.json", "modules.json")
    )
    dataset_bytes = len(fake_hub.file_bytes(DATASET_ID, "README.md"))
    assert (stats["remote_count"], stats["file_count"], stats["repo_count"]) == (1, 3, 2)
    assert stats["bytes"] == model_bytes + dataset_bytes
    assert stats["top_repos"][0] == {
        "repo_type": "model" if model_bytes >= dataset_bytes else "dataset",
        "repo_id": MODEL_ID if model_bytes >= dataset_bytes else DATASET_ID,
        "file_count": 2 if model_bytes >= dataset_bytes else 1,
        "bytes": max(model_bytes, dataset_bytes),
    }


def test_cache_stats_give_the_hit_ratio_and_the_bytes_saved(pulp_cli, pulled, fake_hub):
    pulled("", MODEL_ID, "config.json")  # cold
    pulled("", MODEL_ID, "config.json")  # warm: from storage
    time.sleep(6)  # the content apps add their counts every 5 s
    stats = pulp_cli.json("hugging-face", "cache", "stats", "--remote", pulled.remote["name"])
    size = len(fake_hub.file_bytes(MODEL_ID, "config.json"))
    assert stats["requests"]["hit_ratio"] == 0.5
    assert (stats["requests"]["hit"], stats["requests"]["miss"]) == (1, 1)
    assert stats["bytes_saved"] == size
    assert stats["bytes_served"] == {"storage": size, "upstream": size}


def test_cache_stats_top_limits_the_repo_list(pulp_cli, pulled):
    pulled("", MODEL_ID, "config.json")
    pulled("datasets/", DATASET_ID, "README.md")
    stats = pulp_cli.json(
        "hugging-face", "cache", "stats", "--remote", pulled.remote["name"], "--top", "1"
    )
    assert len(stats["top_repos"]) == 1 and stats["repo_count"] == 2


def test_cache_stats_of_the_domain_include_every_remote(pulp_cli, pulled):
    pulled("", MODEL_ID, "config.json")
    one = pulp_cli.json("hugging-face", "cache", "stats", "--remote", pulled.remote["name"])
    domain = pulp_cli.json("hugging-face", "cache", "stats")
    assert domain["remote_count"] >= 1 and domain["file_count"] >= one["file_count"]
    assert domain["bytes"] >= one["bytes"]
