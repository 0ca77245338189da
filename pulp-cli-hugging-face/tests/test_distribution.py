"""`pulp hugging-face distribution ...`: what a distribution serves."""

import pytest
import requests

pytestmark = pytest.mark.live

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def base_path(pulp_cli):
    return f"cli-{len(pulp_cli.created)}-{id(pulp_cli)}"


def test_distribution_with_a_remote_serves_the_hub_protocol(pulp_cli, fake_hub):
    remote = pulp_cli.rest_create("remote", url=fake_hub.url)
    distribution = pulp_cli.create(
        "distribution", "--base-path", base_path(pulp_cli), "--remote", remote["name"]
    )
    assert distribution["remote"] == remote["pulp_href"]
    answer = requests.get(
        f"{distribution['base_url']}{MODEL_ID}/resolve/main/config.json", timeout=60
    )
    assert answer.status_code == 200
    assert answer.content == fake_hub.file_bytes(MODEL_ID, "config.json")
    assert answer.headers["X-Repo-Commit"] == fake_hub.commit_sha(MODEL_ID, "main")


def test_distribution_records_pulled_files_in_its_repository(pulp_cli, fake_hub):
    remote = pulp_cli.rest_create("remote", url=fake_hub.url)
    repository = pulp_cli.rest_create("repository")
    distribution = pulp_cli.create(
        "distribution",
        "--base-path",
        base_path(pulp_cli),
        "--remote",
        remote["name"],
        "--repository",
        repository["name"],
    )
    assert distribution["repository"] == repository["pulp_href"]
    url = f"{distribution['base_url']}{MODEL_ID}/resolve/main/modules.json"
    assert requests.get(url, timeout=60).status_code == 200
    latest = pulp_cli.json("hugging-face", "repository", "show", "--href", repository["pulp_href"])
    assert latest["latest_version_href"].endswith("/versions/1/")


def test_distribution_version_option_serves_a_fixed_repository_version(pulp_cli):
    repository = pulp_cli.rest_create("repository")
    distribution = pulp_cli.create(
        "distribution",
        "--base-path",
        base_path(pulp_cli),
        "--repository",
        repository["name"],
        "--version",
        "0",
    )
    assert distribution["repository_version"] == f"{repository['pulp_href']}versions/0/"
    assert distribution["repository"] is None


def test_distribution_update_unsets_the_remote(pulp_cli):
    remote = pulp_cli.rest_create("remote")
    distribution = pulp_cli.create(
        "distribution", "--base-path", base_path(pulp_cli), "--remote", remote["name"]
    )
    pulp_cli.run(
        "hugging-face",
        "distribution",
        "update",
        "--href",
        distribution["pulp_href"],
        "--remote",
        "",
    )
    shown = pulp_cli.json(
        "hugging-face", "distribution", "show", "--href", distribution["pulp_href"]
    )
    assert shown["remote"] is None


def test_distribution_list_filters_by_base_path(pulp_cli):
    distribution = pulp_cli.create("distribution", "--base-path", base_path(pulp_cli))
    listed = pulp_cli.json(
        "hugging-face", "distribution", "list", "--base-path", distribution["base_path"]
    )
    assert [d["pulp_href"] for d in listed] == [distribution["pulp_href"]]


def test_distribution_destroy_removes_it(pulp_cli):
    distribution = pulp_cli.create("distribution", "--base-path", base_path(pulp_cli))
    pulp_cli.run("hugging-face", "distribution", "destroy", "--href", distribution["pulp_href"])
    assert (
        pulp_cli.json("hugging-face", "distribution", "list", "--name", distribution["name"]) == []
    )
