"""pulp-cli's test conventions: `pytest_pulp_cli` writes the cli config of `PULP_CLI_CONFIG`
(default tests/cli.toml) into a private XDG_CONFIG_HOME, and the tests run the real `pulp`
command against that server. `scripts/run-tests --only cli` writes the config for its test Pulp.

The fake hub (`fake_hub`) comes from pulp_hugging_face's own pytest plugin.
"""

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import requests

pytest_plugins = ("pytest_pulp_cli",)

PREFETCH_OPERATION = "repositories_hugging_face_hugging_face_sync"
# Where the prefetch task lives once issue 11 is in this tree (contracts: app/tasks/prefetch.py).
PREFETCH_SOURCE = Path(__file__).resolve().parents[2] / "pulp_hugging_face/app/tasks/prefetch.py"


@pytest.fixture(scope="session")
def pulp_cli_gnupghome(tmp_path_factory):
    """pytest_pulp_cli imports a signing key from the internet here; nothing here signs."""
    return tmp_path_factory.mktemp("gnupghome")


class PulpCLI:
    """Runs `pulp --format json ...` as a user would, in pulp_cli_env's environment."""

    def __init__(self, settings):
        self.settings = settings
        self.executable = shutil.which("pulp")
        assert self.executable, "the pulp command is not installed"
        self.created = []

    def run(self, *args, input=None, expect=0):
        result = subprocess.run(  # noqa: PLW1510 (the exit code is asserted below)
            [self.executable, "--format", "json", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if expect is not None:
            assert result.returncode == expect, (
                f"pulp {' '.join(args)} exited {result.returncode} (expected {expect}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result

    def json(self, *args, input=None):
        return json.loads(self.run(*args, input=input).stdout)

    def create(self, kind, *args, input=None):
        """`pulp hugging-face KIND create --name <new> ARGS`, destroyed after the test."""
        name = f"cli-{uuid.uuid4().hex[:12]}"
        entity = self.json(
            "hugging-face", *kind.split(), "create", "--name", name, *args, input=input
        )
        self.created.append((kind, entity["pulp_href"]))
        return entity

    def rest_create(self, kind, **body):
        """A remote or repository made with one REST call: setup for tests whose subject is
        another command (each `pulp` run costs seconds on a busy machine)."""
        endpoint = {"remote": "remotes", "repository": "repositories"}[kind]
        body.setdefault("name", f"rest-{uuid.uuid4().hex[:12]}")
        answer = requests.post(
            f"{self.settings['base_url']}/pulp/api/v3/{endpoint}/hugging_face/hugging_face/",
            json=body,
            auth=(self.settings["username"], self.settings["password"]),
            timeout=60,
        )
        assert answer.status_code == 201, answer.text
        entity = answer.json()
        self.created.append((kind, entity["pulp_href"]))
        return entity

    def cleanup(self):
        """Plain REST deletes: each `pulp` run costs seconds, and `destroy` has tests of its own."""
        auth = (self.settings["username"], self.settings["password"])
        for _kind, href in reversed(self.created):
            requests.delete(self.settings["base_url"] + href, auth=auth, timeout=60)


@pytest.fixture
def pulp_cli(pulp_cli_env, pulp_cli_settings):
    cli = PulpCLI(pulp_cli_settings["cli"])
    yield cli
    cli.cleanup()


@pytest.fixture(scope="session")
def api_operations(pulp_cli_settings):
    """Operation ids of the server's API schema (what this server offers)."""
    from pulp_glue.common.context import PulpContext

    settings = pulp_cli_settings["cli"]
    context = PulpContext(
        api_root=settings.get("api_root", "/pulp/"),
        api_kwargs={
            "base_url": settings["base_url"],
            "username": settings.get("username"),
            "password": settings.get("password"),
            "refresh_cache": True,
        },
    )
    return set(context.api.operations)


@pytest.fixture
def prefetch_endpoint(api_operations):
    """The prefetch (sync) endpoint of issue 11, required as soon as its code is in the tree.

    Without that code the server cannot have it and the test says so; with the code, a server
    without the endpoint is a failure, never a skip.
    """
    if PREFETCH_OPERATION not in api_operations:
        if PREFETCH_SOURCE.exists():
            pytest.fail(f"{PREFETCH_SOURCE.name} exists but the server has no {PREFETCH_OPERATION}")
        pytest.skip(
            "the server has no prefetch endpoint (app/tasks/prefetch.py is not in this tree)"
        )
    return PREFETCH_OPERATION


@pytest.fixture
def token_file(tmp_path):
    def _write(token):
        path = tmp_path / f"token-{uuid.uuid4().hex[:8]}"
        path.write_text(token + "\n")
        os.chmod(path, 0o600)
        return path

    return _write
