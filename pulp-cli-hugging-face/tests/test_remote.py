"""`pulp hugging-face remote ...`: the upstream hub and its token."""

import pytest

pytestmark = pytest.mark.live

TOKEN = "hf_cliTestToken0123456789abcdef"


def token_is_set(remote):
    return {f["name"]: f["is_set"] for f in remote["hidden_fields"]}["hf_token"]


def update(pulp_cli, remote, *args, **kwargs):
    """`pulp hugging-face remote update --href ... ARGS`: the CLI result."""
    return pulp_cli.run(
        "hugging-face", "remote", "update", "--href", remote["pulp_href"], *args, **kwargs
    )


def shown(pulp_cli, remote):
    """The remote as `pulp hugging-face remote show` prints it now."""
    return pulp_cli.json("hugging-face", "remote", "show", "--href", remote["pulp_href"])


def test_remote_url_defaults_to_huggingface_co(pulp_cli):
    remote = pulp_cli.create("remote")
    assert remote["url"] == "https://huggingface.co"
    assert remote["policy"] == "on_demand"


def test_remote_takes_the_hub_fields(pulp_cli, fake_hub):
    remote = pulp_cli.create(
        "remote",
        "--url",
        fake_hub.url,
        "--policy",
        "streamed",
        "--metadata-ttl",
        "60",
        "--metadata-timeout",
        "3.5",
    )
    assert (remote["url"], remote["policy"]) == (fake_hub.url, "streamed")
    assert (remote["metadata_ttl"], remote["metadata_timeout"]) == (60, 3.5)


def test_remote_token_is_read_from_a_file_and_never_printed(pulp_cli, token_file):
    remote = pulp_cli.rest_create("remote")
    result = pulp_cli.run(
        "-vvv",
        "hugging-face",
        "remote",
        "update",
        "--href",
        remote["pulp_href"],
        "--hf-token",
        f"@{token_file(TOKEN)}",
    )
    assert TOKEN not in result.stdout + result.stderr  # -vvv logs request bodies
    assert "'***'" in result.stderr
    assert token_is_set(shown(pulp_cli, remote))


def test_remote_token_is_asked_for_without_echo(pulp_cli):
    remote = pulp_cli.rest_create("remote")
    result = update(pulp_cli, remote, "--hf-token", "-", input=TOKEN + "\n")
    assert TOKEN not in result.stdout + result.stderr
    assert "input hidden" in result.stderr
    assert token_is_set(shown(pulp_cli, remote))


def test_remote_token_on_the_command_line_is_refused(pulp_cli):
    remote = pulp_cli.rest_create("remote")
    result = update(pulp_cli, remote, "--hf-token", TOKEN, expect=2)
    assert "@FILE" in result.stderr
    assert TOKEN not in result.stdout + result.stderr
    assert not token_is_set(shown(pulp_cli, remote))


def test_remote_token_is_removed_with_no_hf_token(pulp_cli, token_file):
    remote = pulp_cli.create("remote", "--hf-token", f"@{token_file(TOKEN)}")
    assert token_is_set(remote)
    update(pulp_cli, remote, "--no-hf-token")
    assert not token_is_set(shown(pulp_cli, remote))


def test_remote_update_changes_only_the_given_fields(pulp_cli):
    remote = pulp_cli.rest_create("remote", metadata_ttl=30)
    update(pulp_cli, remote, "--metadata-timeout", "2")
    updated = shown(pulp_cli, remote)
    assert (updated["metadata_ttl"], updated["metadata_timeout"]) == (30, 2.0)


def test_remote_list_filters_by_name(pulp_cli):
    remote = pulp_cli.create("remote")
    pulp_cli.rest_create("remote")  # another one, which the filter leaves out
    listed = pulp_cli.json("hugging-face", "remote", "list", "--name", remote["name"])
    assert [r["pulp_href"] for r in listed] == [remote["pulp_href"]]


def test_remote_destroy_removes_it(pulp_cli):
    remote = pulp_cli.create("remote")
    pulp_cli.run("hugging-face", "remote", "destroy", "--name", remote["name"])
    assert pulp_cli.json("hugging-face", "remote", "list", "--name", remote["name"]) == []
