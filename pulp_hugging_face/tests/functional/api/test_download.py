"""hf_hub_download through the cache: cold, warm, every repo type and revision kind."""

import hashlib
import os
import subprocess
import sys

import pytest

from pulp_hugging_face.tests.functional.fake_hub import DATASET_ID, MODEL_ID, SPACE_ID

DOWNLOAD = """
import hashlib, os
from huggingface_hub import hf_hub_download
path = hf_hub_download({repo_id!r}, {filename!r}, repo_type={repo_type!r}, revision={revision!r})
blob = os.path.realpath(path)
result = {{
    "sha256": hashlib.sha256(open(path, "rb").read()).hexdigest(),
    "blob": os.path.basename(blob),
    "snapshot": path.split("/snapshots/")[1].split("/")[0],
}}
"""


def download(hf_client, endpoint, repo_id, filename, repo_type="model", revision="main", **kw):
    code = DOWNLOAD.format(
        repo_id=repo_id, filename=filename, repo_type=repo_type, revision=revision
    )
    return hf_client(code, endpoint, **kw)


def test_commit_pinned_download_is_fetched_once(hf_cache_factory, hub_reset, hf_client):
    """The foundation promise: first download from the hub, every later one from Pulp."""
    cache = hf_cache_factory()
    commit = hub_reset.commit_sha(MODEL_ID, "main")
    expected = hashlib.sha256(hub_reset.file_bytes(MODEL_ID, "config.json")).hexdigest()

    cold = download(hf_client, cache.endpoint, MODEL_ID, "config.json", revision=commit)
    assert cold["sha256"] == expected
    assert cold["snapshot"] == commit
    assert hub_reset.count() > 0

    hub_reset.reset()
    warm = download(hf_client, cache.endpoint, MODEL_ID, "config.json", revision=commit)
    assert warm == cold
    assert hub_reset.count() == 0, hub_reset.stats()["requests"]


CASES = [
    ("model", MODEL_ID, "config.json", "main"),
    ("model", MODEL_ID, "model.safetensors", "main"),
    ("model", MODEL_ID, "big.bin", "v1.0"),
    ("model", MODEL_ID, "1_Pooling/config.json", "main"),
    ("model", MODEL_ID, "docs/read me.txt", "main"),
    ("model", MODEL_ID, "docs/naïve-日本.txt", "main"),
    ("model", MODEL_ID, "docs/empty.txt", "main"),
    ("model", MODEL_ID, "pr-only.txt", "refs/pr/1"),
    ("dataset", DATASET_ID, "data/train.csv", "main"),
    ("dataset", DATASET_ID, "parquet/train-00000-of-00001.parquet", "refs/convert/parquet"),
    ("space", SPACE_ID, "app.py", "main"),
]


@pytest.mark.parametrize("repo_type,repo_id,filename,revision", CASES)
def test_download_matches_hub(
    hf_cache_factory, hub_reset, hf_client, repo_type, repo_id, filename, revision
):
    cache = hf_cache_factory()
    repo = hub_reset.repo(repo_id)
    commit = repo["refs"][revision]
    label = next(label for label, sha in repo["commits"].items() if sha == commit)
    facts = repo["files"][label][filename]

    result = download(hf_client, cache.endpoint, repo_id, filename, repo_type, revision)

    assert result["sha256"] == facts["sha256"]
    assert result["snapshot"] == commit
    # The blob is named by the hub's ETag: sha256 for LFS files, git blob sha1 otherwise.
    assert result["blob"] == (facts["sha256"] if facts["lfs"] else facts["git_sha1"])

    hub_reset.reset()
    again = download(hf_client, cache.endpoint, repo_id, filename, repo_type, revision)
    assert again == result
    assert hub_reset.count() == 0, hub_reset.stats()["requests"]


def test_hf_command_line_download(hf_cache_factory, hub_reset, tmp_path):
    """The `hf download` command, as users run it in CI jobs and shells."""
    cache = hf_cache_factory()
    hf = os.path.join(os.path.dirname(sys.executable), "hf")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_ENDPOINT=cache.endpoint, HF_HOME=str(tmp_path), HF_HUB_DISABLE_PROGRESS_BARS="1")
    done = subprocess.run(
        [hf, "download", MODEL_ID, "config.json", "big.bin", "--local-dir", str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for name in ("config.json", "big.bin"):
        assert (tmp_path / "out" / name).read_bytes() == hub_reset.file_bytes(MODEL_ID, name)
    assert hub_reset.count("xet") == 0
