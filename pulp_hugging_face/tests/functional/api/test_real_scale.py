"""Repos at real scale, answered the way huggingface.co answers: in 16 KiB pieces.

The large data set has 5,134 files (its info answer is hundreds of KB, its tree five pages of
1,000); the sharded model has 120 Xet-backed LFS shards. Through the cache, every client call
gives what it gives straight from the hub, and many cold downloads leave no file descriptors
behind in the content app.
"""

import os
from pathlib import Path

import requests

from pulp_hugging_face.tests.functional.fake_hub import LARGE_DATASET_ID, SHARDED_MODEL_ID

LISTINGS = """
import json
from huggingface_hub import HfApi, HfFileSystem
api = HfApi()
info = api.dataset_info({repo!r}, files_metadata=True)
tree = sorted(e.path for e in api.list_repo_tree({repo!r}, repo_type="dataset", recursive=True))
files = sorted(api.list_repo_files({repo!r}, repo_type="dataset"))
folder = sorted(HfFileSystem().ls("datasets/{repo}/data/train/00", detail=False))
result = {{
    "sha": info.sha,
    "siblings": sorted((s.rfilename, s.size, s.blob_id) for s in info.siblings),
    "tree": tree,
    "files": files,
    "folder": folder,
}}
"""

SNAPSHOT = """
import hashlib, os
from huggingface_hub import snapshot_download
path = snapshot_download({repo!r}, allow_patterns={allow!r})
result = {{}}
for root, _, names in os.walk(path):
    for name in names:
        full = os.path.join(root, name)
        result[os.path.relpath(full, path)] = hashlib.sha256(open(full, "rb").read()).hexdigest()
"""


def test_large_repo_listings_through_the_cache_equal_the_hub(
    hf_cache_factory, hub_reset, hf_client
):
    cache = hf_cache_factory()
    code = LISTINGS.format(repo=LARGE_DATASET_ID)
    through_pulp = hf_client(code, cache.endpoint)
    direct = hf_client(code, hub_reset.url)
    assert len(direct["files"]) >= 5000
    assert through_pulp == direct

    info = requests.get(f"{cache.endpoint}/api/datasets/{LARGE_DATASET_ID}?blobs=true")
    assert len(info.content) > 300_000
    assert "xetHash" not in info.text and "xetEnabled" not in info.text


def test_sharded_model_snapshot_through_the_cache(hf_cache_factory, hub_reset, hf_client):
    cache = hf_cache_factory()
    code = SNAPSHOT.format(repo=SHARDED_MODEL_ID, allow=None)
    files = hub_reset.repo(SHARDED_MODEL_ID)["files"]["A"]
    assert len(files) > 100
    assert hf_client(code, cache.endpoint) == {p: f["sha256"] for p, f in files.items()}
    assert hub_reset.count("xet") == 0


def content_app_processes():
    """The pids of the content app's gunicorn workers (children of its master)."""
    state = Path(os.environ["PULP_HF_STATE_DIR"])
    master = (state / "run" / "content.pid").read_text().split()[0]
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == master:
            children.append(stat.parent.name)
    return [master, *children]


def open_descriptors():
    return sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in content_app_processes())


def test_cold_downloads_leave_no_descriptors_behind(hf_cache_factory, hub_reset):
    cache = hf_cache_factory()
    shards = sorted(hub_reset.repo(SHARDED_MODEL_ID)["files"]["A"])
    dataset_files = [p for p in sorted(hub_reset.repo(LARGE_DATASET_ID)["files"]["A"])]
    urls = [f"{cache.endpoint}/{SHARDED_MODEL_ID}/resolve/main/{p}" for p in shards] + [
        f"{cache.endpoint}/datasets/{LARGE_DATASET_ID}/resolve/main/{p}"
        for p in dataset_files[: 200 - len(shards)]
    ]
    assert len(urls) == 200
    with requests.Session() as session:
        for url in urls[:20]:  # pools and connections settle in
            assert session.get(url, timeout=60).status_code == 200
        before = open_descriptors()
        for url in urls[20:]:
            assert session.get(url, timeout=60).status_code == 200, url
        after = open_descriptors()
    assert after - before <= 10, (before, after)
