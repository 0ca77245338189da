"""huggingface_hub generations (requests-based 0.x, httpx-based 1.x, 2.x), with and without
hf_xet, and their download commands, all through the cache.

Each test records its cell of the Compatibility page (`compat`, scripts/compat-matrix).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pulp_hugging_face.pytest_plugin import client_pythons
from pulp_hugging_face.tests.functional.fake_hub import MODEL_ID

# label -> the interpreter that has that generation (the test venv has the current one)
GENERATIONS = ("hub0.36", "hub1", "hub2")
CLIENT_NAMES = {
    "hub0.36": "huggingface_hub 0.36",
    "hub1": "huggingface_hub 1.x",
    "hub2": "huggingface_hub 2.x",
}
COMMANDS = ("hf", "huggingface-cli")

SNAPSHOT_AND_FILE = """
import hashlib, importlib.util, os
import huggingface_hub
from huggingface_hub import hf_hub_download, snapshot_download
path = snapshot_download({model!r}, allow_patterns=["*.json", "big.bin", "xet/*", "docs/*"])
files = sorted(
    os.path.relpath(os.path.join(root, name), path)
    for root, _, names in os.walk(path) for name in names
)
single = hf_hub_download({model!r}, "config.json", revision="v1.0")
result = {{
    "version": huggingface_hub.__version__,
    "hf_xet": importlib.util.find_spec("hf_xet") is not None,
    "snapshot": os.path.basename(path),
    "files": files,
    "blobs": sorted(os.path.basename(os.path.realpath(os.path.join(path, f))) for f in files),
    "config": hashlib.sha256(open(single, "rb").read()).hexdigest(),
}}
"""
VERSION = "import huggingface_hub; result = huggingface_hub.__version__"


def python_of(generation):
    if generation == "hub2":
        return sys.executable
    python = client_pythons().get(generation)
    assert python, f"PULP_HF_CLIENT_PYTHONS has no {generation} interpreter (scripts/run-tests)"
    return python


# From 1.0 on, `huggingface-cli` is a stub that only says "use `hf`" (and exits 0).
WORKING_COMMANDS = {"hub0.36": COMMANDS, "hub1": ("hf",), "hub2": ("hf",)}


def shipped_commands():
    """(generation, command) for every working download command a generation's venv has."""
    pairs = []
    for generation in GENERATIONS:
        python = sys.executable if generation == "hub2" else client_pythons().get(generation)
        for command in WORKING_COMMANDS[generation]:
            if python and (Path(python).parent / command).exists():
                pairs.append((generation, command))
    return pairs


@pytest.mark.parametrize("xet", [True, False], ids=["with-hf_xet", "without-hf_xet"])
@pytest.mark.parametrize("generation", GENERATIONS)
def test_client_generation_downloads_through_the_cache(
    hf_cache_factory, hub_reset, hf_client, compat, generation, xet
):
    """A client's cache filled through Pulp is the one a direct download gives."""
    python = python_of(generation)
    behaviour = f"snapshot_download + hf_hub_download, {'with' if xet else 'without'} hf_xet"
    cache = hf_cache_factory()
    code = SNAPSHOT_AND_FILE.format(model=MODEL_ID)
    env = {} if xet else {"HF_HUB_DISABLE_XET": "1"}

    through_pulp = hf_client(code, cache.endpoint, env=env, python=python)
    compat(client=CLIENT_NAMES[generation], behaviour=behaviour, version=through_pulp["version"])
    # Directly, hf_xet would talk to the (fake) CAS; through Pulp it never gets the chance.
    direct = hf_client(code, hub_reset.url, env={"HF_HUB_DISABLE_XET": "1"}, python=python)

    assert through_pulp["version"].split(".")[0] == generation.removeprefix("hub").split(".")[0]
    assert through_pulp["hf_xet"] is True  # "without" is HF_HUB_DISABLE_XET, as users set it
    for key in ("snapshot", "files", "blobs", "config"):
        assert through_pulp[key] == direct[key], key
    assert hub_reset.count("xet") == 0


@pytest.mark.parametrize(("generation", "command"), shipped_commands())
def test_download_command_through_the_cache(
    hf_cache_factory, hub_reset, hf_client, compat, tmp_path, generation, command
):
    """`hf download` / `huggingface-cli download`, as users run them in CI jobs and shells."""
    python = python_of(generation)
    compat(
        client=CLIENT_NAMES[generation],
        behaviour=f"`{command} download`",
        version=hf_client(VERSION, "http://unused.invalid", python=python),
    )
    cache = hf_cache_factory()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_ENDPOINT=cache.endpoint, HF_HOME=str(tmp_path), HF_HUB_DISABLE_PROGRESS_BARS="1")
    executable = str(Path(python).parent / command)
    done = subprocess.run(
        [
            executable,
            "download",
            MODEL_ID,
            "config.json",
            "big.bin",
            "--local-dir",
            str(tmp_path / "out"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("config.json", "big.bin"):
        assert (tmp_path / "out" / name).read_bytes() == hub_reset.file_bytes(MODEL_ID, name)
    assert hub_reset.count("xet") == 0
