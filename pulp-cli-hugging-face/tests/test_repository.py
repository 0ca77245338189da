"""`pulp hugging-face repository ...`, and `sync`: prefetch into a repository version."""

import pytest

pytestmark = pytest.mark.live

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def test_repository_create_update_show(pulp_cli):
    remote = pulp_cli.rest_create("remote")
    repository = pulp_cli.create("repository", "--description", "first")
    pulp_cli.run(
        "hugging-face",
        "repository",
        "update",
        "--href",
        repository["pulp_href"],
        "--description",
        "second",
        "--remote",
        remote["name"],
        "--retain-repo-versions",
        "3",
    )
    shown = pulp_cli.json("hugging-face", "repository", "show", "--href", repository["pulp_href"])
    assert (shown["description"], shown["remote"], shown["retain_repo_versions"]) == (
        "second",
        remote["pulp_href"],
        3,
    )


def test_repository_version_list_starts_with_version_zero(pulp_cli):
    repository = pulp_cli.rest_create("repository")
    versions = pulp_cli.json(
        "hugging-face", "repository", "version", "list", "--repository", repository["name"]
    )
    assert [v["number"] for v in versions] == [0]


def test_repository_sync_needs_a_remote(pulp_cli):
    repository = pulp_cli.rest_create("repository")
    result = pulp_cli.run(
        "hugging-face",
        "repository",
        "sync",
        "--name",
        repository["name"],
        "--repo",
        MODEL_ID,
        expect=1,
    )
    assert "has no remote" in result.stderr


def test_repository_sync_prefetches_the_matching_files(pulp_cli, fake_hub, prefetch_endpoint):
    remote = pulp_cli.rest_create("remote", url=fake_hub.url)
    repository = pulp_cli.rest_create("repository", remote=remote["pulp_href"])
    pulp_cli.run(
        "hugging-face",
        "repository",
        "sync",
        "--name",
        repository["name"],
        "--repo",
        MODEL_ID,
        "--revision",
        "main",
        "--allow",
        "*.json",
        "--ignore",
        "tokenizer*",
    )
    shown = pulp_cli.json("hugging-face", "repository", "show", "--href", repository["pulp_href"])
    assert shown["latest_version_href"].endswith("/versions/1/")
    files = pulp_cli.json(
        "hugging-face",
        "content",
        "list",
        "--repository-version",
        shown["latest_version_href"],
        "--limit",
        "1000",
    )
    paths = {f["path"] for f in files}
    commit = fake_hub.commit_sha(MODEL_ID, "main")
    repo = fake_hub.repo(MODEL_ID)
    label = next(label for label, sha in repo["commits"].items() if sha == commit)
    expected = {
        path
        for path in repo["files"][label]
        if path.endswith(".json") and not path.startswith("tokenizer")
    }
    assert paths == expected
    assert {f["commit"] for f in files} == {fake_hub.commit_sha(MODEL_ID, "main")}
