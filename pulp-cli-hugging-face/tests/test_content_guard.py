"""`pulp hugging-face content-guard ...`: tokens clients send as HF_TOKEN."""

import pytest
import requests

pytestmark = pytest.mark.live

CLIENT_TOKEN = "client-token-for-cli-tests"
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def test_guard_keeps_only_token_digests(pulp_cli, token_file):
    guard = pulp_cli.create("content-guard", "--token", f"@{token_file(CLIENT_TOKEN)}")
    assert guard["token_count"] == 1
    assert CLIENT_TOKEN not in str(
        pulp_cli.json("hugging-face", "content-guard", "show", "--href", guard["pulp_href"])
    )


def test_guard_update_replaces_the_tokens(pulp_cli, token_file):
    guard = pulp_cli.create("content-guard", "--token", f"@{token_file(CLIENT_TOKEN)}")
    pulp_cli.run(
        "hugging-face",
        "content-guard",
        "update",
        "--href",
        guard["pulp_href"],
        "--token",
        f"@{token_file('another-token-1')}",
        "--token",
        f"@{token_file('another-token-2')}",
    )
    assert (
        pulp_cli.json("hugging-face", "content-guard", "show", "--href", guard["pulp_href"])[
            "token_count"
        ]
        == 2
    )


def test_guarded_distribution_lets_in_only_its_tokens(pulp_cli, token_file, fake_hub):
    guard = pulp_cli.create("content-guard", "--token", f"@{token_file(CLIENT_TOKEN)}")
    remote = pulp_cli.rest_create("remote", url=fake_hub.url)
    distribution = pulp_cli.create(
        "distribution",
        "--base-path",
        f"cli-guarded-{remote['name']}",
        "--remote",
        remote["name"],
        "--content-guard",
        guard["name"],
    )
    url = f"{distribution['base_url']}{MODEL_ID}/resolve/main/config.json"
    assert requests.head(url, timeout=30).status_code == 401
    assert (
        requests.head(url, headers={"Authorization": "Bearer wrong-token"}, timeout=30).status_code
        == 403
    )
    allowed = requests.head(url, headers={"Authorization": f"Bearer {CLIENT_TOKEN}"}, timeout=30)
    assert allowed.status_code == 200
