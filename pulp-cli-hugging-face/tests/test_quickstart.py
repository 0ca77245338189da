"""The quickstart's `pulp` commands, run as written (docs/user/tutorials/quickstart.md).

They use the quickstart's names (remote `huggingface.co`, distribution `hf`): run against a
Pulp without them (scripts/run-tests starts one with no setup).

Only the hub's URL is replaced (by the fake hub's); then a download goes through the
distribution the commands made, and the commands that look at the cache see it.
"""

import re
import shlex
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.live

QUICKSTART = Path(__file__).resolve().parents[2] / "docs/user/tutorials/quickstart.md"
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def commands_after(marker):
    """The `pulp ...` lines of the first bash block after an HTML comment starting `marker`."""
    text = QUICKSTART.read_text()
    block = re.search(
        rf"<!-- {re.escape(marker)}[ :-][^\n]*-->\n```bash\n(.*?)```", text, re.DOTALL
    )
    assert block, f"no bash block after <!-- {marker} --> in {QUICKSTART.name}"
    lines = [line for line in block.group(1).splitlines() if line.startswith("pulp ")]
    assert lines
    return [shlex.split(line)[1:] for line in lines]


@pytest.fixture
def quickstart_objects(pulp_cli):
    yield
    # The quickstart's names: remove what the commands made (the distribution first).
    for kind, name in (("distribution", "hf"), ("remote", "huggingface.co")):
        found = pulp_cli.json("hugging-face", kind, "list", "--name", name)
        pulp_cli.created.extend((kind, entity["pulp_href"]) for entity in found)


def test_quickstart_commands_make_a_working_cache(pulp_cli, fake_hub, quickstart_objects):
    setup = commands_after("cli-quickstart")
    outputs = []
    for args in setup:
        args = [fake_hub.url if a == "https://huggingface.co" else a for a in args]
        outputs.append(pulp_cli.json(*args))
    distribution = outputs[-1]
    assert distribution["base_path"] == "hf"

    answer = requests.get(
        f"{distribution['base_url']}{MODEL_ID}/resolve/main/config.json", timeout=60
    )
    assert answer.status_code == 200

    listed, stats = (
        pulp_cli.json(*args) for args in commands_after("cli-quickstart-after-download")
    )
    assert "config.json" in {f["path"] for f in listed}
    assert stats["file_count"] == 1 and stats["top_repos"][0]["repo_id"] == MODEL_ID
