"""Every `pulp hugging-face ...` help page renders without talking to a server."""

import click
import pytest
from click.testing import CliRunner
from pulp_cli import load_plugins, main

load_plugins()


def command_paths(command, path):
    yield path
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from command_paths(sub, [*path, name])


PATHS = list(command_paths(main.commands["hugging-face"], ["hugging-face"]))


@pytest.fixture
def no_api(monkeypatch):
    def refuse(self):
        pytest.fail("a help page used the API", pytrace=False)

    monkeypatch.setattr("pulp_glue.common.context.PulpContext.api", property(refuse))


def test_the_plugin_offers_every_command_group():
    groups = set(main.commands["hugging-face"].commands)
    assert groups == {"remote", "distribution", "repository", "content", "content-guard", "cache"}


@pytest.mark.parametrize("path", PATHS, ids=" ".join)
def test_help_page_renders_without_the_api(no_api, path):
    result = CliRunner().invoke(main, [*path, "--help"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage:")
