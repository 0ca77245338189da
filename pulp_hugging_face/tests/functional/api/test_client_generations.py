"""Older huggingface_hub generations (requests-based 0.x, httpx-based 1.x) use the cache too."""

import pytest

from pulp_hugging_face.pytest_plugin import client_pythons
from pulp_hugging_face.tests.functional.fake_hub import MODEL_ID

GENERATIONS = ("hub0.36", "hub1")

SNAPSHOT_AND_FILE = """
import hashlib, os
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
    "snapshot": os.path.basename(path),
    "files": files,
    "blobs": sorted(os.path.basename(os.path.realpath(os.path.join(path, f))) for f in files),
    "config": hashlib.sha256(open(single, "rb").read()).hexdigest(),
}}
"""


@pytest.mark.parametrize("generation", GENERATIONS)
def test_older_clients_download_through_the_cache(
    hf_cache_factory, hub_reset, hf_client, generation
):
    python = client_pythons().get(generation)
    assert python, f"PULP_HF_CLIENT_PYTHONS has no {generation} interpreter (scripts/run-tests)"
    cache = hf_cache_factory()
    code = SNAPSHOT_AND_FILE.format(model=MODEL_ID)

    result = hf_client(code, cache.endpoint, python=python)
    current = hf_client(code, cache.endpoint)

    assert result["version"].split(".")[0] == generation.removeprefix("hub").split(".")[0]
    for key in ("snapshot", "files", "blobs", "config"):
        assert result[key] == current[key], key
    assert hub_reset.count("xet") == 0
