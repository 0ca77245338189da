"""snapshot_download, the Hub API and HfFileSystem through the cache."""

import subprocess
import sys

import pytest
import requests

from pulp_hugging_face.tests.functional.fake_hub import DATASET_ID, MODEL_ID

SNAPSHOT = """
import os
from huggingface_hub import snapshot_download
path = snapshot_download({repo_id!r}, revision={revision!r}, allow_patterns={allow!r},
                         ignore_patterns={ignore!r})
files = sorted(
    os.path.relpath(os.path.join(root, name), path)
    for root, _, names in os.walk(path) for name in names
)
result = {{"snapshot": os.path.basename(path), "files": files}}
"""


def tree_digest(root):
    """Every file, symlink target and ref of an HF_HOME, for comparing two client caches."""
    listing = subprocess.run(
        [sys.executable, "-c", TREE_LISTING, str(root)], capture_output=True, text=True, check=True
    )
    return listing.stdout


# The client's tree cache (trees/<commit>.json) records xet hashes from the listing; the cache
# must drop them (a client with hf_xet would bypass the cache), so they are compared without.
TREE_LISTING = """
import hashlib, json, os, sys
root = os.path.join(sys.argv[1], "hub")
for dirpath, dirnames, filenames in sorted(os.walk(root)):
    dirnames.sort()
    for name in sorted(filenames):
        path = os.path.join(dirpath, name)
        rel = os.path.relpath(path, root)
        if rel.startswith(".locks") or "/.no_exist/" in "/" + rel:
            continue
        if os.path.islink(path):
            print(rel, "->", os.readlink(path))
        elif "/trees/" in rel:
            tree = json.load(open(path))
            print(rel, "xet" if "xet_hash" in json.dumps(tree) else "no-xet")
            for entry in tree["files"].values():
                entry.pop("xet_hash", None)
            print(rel, json.dumps(tree, sort_keys=True))
        else:
            print(rel, hashlib.sha256(open(path, "rb").read()).hexdigest())
"""


@pytest.mark.parametrize(
    "revision,allow,ignore",
    [
        ("main", None, None),
        ("A", None, None),  # by commit sha
        ("main", ["*.json"], None),
        ("main", None, ["*.bin", "*.safetensors"]),
    ],
)
def test_snapshot_download(
    hf_cache_factory, hub_reset, hf_client, tmp_path, revision, allow, ignore
):
    hub_reset.configure(page_size=4)  # the listing spans pages: Link must lead back to Pulp
    cache = hf_cache_factory()
    repo = hub_reset.repo(MODEL_ID)
    revision = repo["commits"].get(revision, revision)
    code = SNAPSHOT.format(repo_id=MODEL_ID, revision=revision, allow=allow, ignore=ignore)

    result = hf_client(code, cache.endpoint)

    commit = repo["refs"].get(revision, revision)
    label = next(label for label, sha in repo["commits"].items() if sha == commit)
    expected = sorted(repo["files"][label])
    if allow:
        expected = [f for f in expected if f.endswith(".json")]
    if ignore:
        expected = [f for f in expected if not f.endswith((".bin", ".safetensors"))]
    assert result == {"snapshot": commit, "files": expected}
    assert hub_reset.count("xet") == 0
    # The tree listing named every file's ETag and size: no upstream HEAD per file.
    cold = hub_reset.stats()["requests"]
    assert [r["path"] for r in cold if r["method"] == "HEAD"] == []
    # One GET per file body (the client writes an empty file without asking).
    bodies = [f for f in expected if f != "docs/empty.txt"]
    assert len([r for r in cold if r["action"] == "resolve"]) == len(bodies)

    hub_reset.reset()
    assert hf_client(code, cache.endpoint) == result
    assert hub_reset.count() == 0, hub_reset.stats()["requests"]


def test_client_cache_identical_to_direct_download(
    hf_cache_factory, hub_reset, hf_client, tmp_path
):
    """A cache filled through Pulp is the one a direct download from the hub would give."""
    cache = hf_cache_factory()
    code = SNAPSHOT.format(repo_id=MODEL_ID, revision="main", allow=None, ignore=None)
    direct_home, pulp_home = tmp_path / "direct", tmp_path / "pulp"
    # Directly, hf_xet would talk to the (fake) CAS; through Pulp it never gets the chance.
    hf_client(code, hub_reset.url, env={"HF_HUB_DISABLE_XET": "1"}, hf_home=direct_home)
    hf_client(code, cache.endpoint, hf_home=pulp_home)

    direct, through_pulp = tree_digest(direct_home), tree_digest(pulp_home)
    assert "refs/main" in through_pulp
    assert ".json no-xet" in through_pulp and ".json xet" in direct
    assert through_pulp == direct.replace(".json xet", ".json no-xet")


API_CALLS = """
from huggingface_hub import HfApi
api = HfApi()
info = api.model_info({model!r})
dinfo = api.dataset_info({dataset!r}, files_metadata=True)
tree = sorted(
    (e.path, getattr(e, "size", None))
    for e in api.list_repo_tree({model!r}, recursive=True)
)
paths = api.get_paths_info({model!r}, ["config.json", "1_Pooling", "missing.txt"])
refs = api.list_repo_refs({model!r}, include_pull_requests=True)
result = {{
    "sha": info.sha,
    "siblings": sorted(s.rfilename for s in info.siblings),
    "dataset_sha": dinfo.sha,
    "dataset_sizes": sorted((s.rfilename, s.size) for s in dinfo.siblings),
    "files": api.list_repo_files({model!r}),
    "tree": tree,
    "paths": sorted((p.path, type(p).__name__) for p in paths),
    "refs": sorted(
        (r.name, r.target_commit) for r in refs.branches + refs.tags + refs.pull_requests
    ),
}}
"""


def test_hub_api_calls(hf_cache_factory, hub_reset, hf_client):
    hub_reset.configure(page_size=3)
    cache = hf_cache_factory()
    code = API_CALLS.format(model=MODEL_ID, dataset=DATASET_ID)

    through_pulp = hf_client(code, cache.endpoint)
    direct = hf_client(code, hub_reset.url)

    assert through_pulp == direct
    repo = hub_reset.repo(MODEL_ID)
    assert through_pulp["sha"] == repo["refs"]["main"]
    assert sorted(through_pulp["files"]) == sorted(repo["files"]["A"])
    assert ["main", repo["refs"]["main"]] in through_pulp["refs"]
    assert through_pulp["paths"] == [
        ["1_Pooling", "RepoFolder"],
        ["config.json", "RepoFile"],
    ]

    hub_reset.reset()
    assert hf_client(code, cache.endpoint) == through_pulp
    # Only the live refs listing goes upstream again; everything else is cached.
    assert [r["path"].rsplit("/", 1)[-1] for r in hub_reset.stats()["requests"]] == ["refs"]


def test_tree_pagination_links_point_at_pulp(hf_cache_factory, hub_reset):
    hub_reset.configure(page_size=2)
    cache = hf_cache_factory()
    url = f"{cache.endpoint}/api/models/{MODEL_ID}/tree/main?recursive=true"
    seen = []
    while url:
        response = requests.get(url)
        assert response.status_code == 200
        seen += [entry["path"] for entry in response.json()]
        url = response.links.get("next", {}).get("url")
        if url:
            assert url.startswith(cache.endpoint + "/api/models/"), url
            assert hub_reset.url not in response.headers["Link"]
    assert len(seen) == len(set(seen)) > 4
    for entry in requests.get(f"{cache.endpoint}/api/models/{MODEL_ID}/tree/main/xet").json():
        assert "xetHash" not in entry


def test_a_folder_missing_at_a_commit_is_asked_upstream_once(hf_cache_factory, hub_reset):
    """The hub's EntryNotFound for a folder at a commit never changes, like a listing."""
    cache = hf_cache_factory()
    commit = hub_reset.commit_sha(MODEL_ID, "main")
    for revision in (commit, "main", commit):
        url = f"{cache.endpoint}/api/models/{MODEL_ID}/tree/{revision}/additional_chat_templates"
        missing = requests.get(url)
        assert missing.status_code == 404
        assert missing.headers["X-Error-Code"] == "EntryNotFound"
    assert hub_reset.count("api") == 2  # the listing once, and what `main` points to once


@pytest.mark.parametrize(
    "endpoint", ["commits/main", "discussions", "xet-read-token/main", "refs/heads"]
)
def test_an_api_call_no_download_needs_is_answered_404_without_asking_the_hub(
    hf_cache_factory, hub_reset, endpoint
):
    """Commits, discussions and Xet tokens are live or would lead a client around the cache."""
    cache = hf_cache_factory()
    answer = requests.get(f"{cache.endpoint}/api/models/{MODEL_ID}/{endpoint}")
    assert answer.status_code == 404
    assert "repo info, tree, paths-info and refs" in answer.headers["X-Error-Message"]
    assert answer.json() == {"error": answer.headers["X-Error-Message"]}
    assert hub_reset.stats()["requests"] == []


FILESYSTEM = """
from huggingface_hub import HfFileSystem
fs = HfFileSystem()
root = "datasets/{dataset}"
listing = sorted(fs.ls(root + "/data", detail=False))
info = fs.info(root + "/data/train.csv")
with fs.open(root + "/data/train.csv", "rb") as f:
    f.seek(5)
    middle = f.read(10)
    f.seek(0)
    whole = f.read()
with fs.open("{model}/big.bin", "rb", block_size=64 * 1024) as f:
    f.seek(1_000_000)
    chunk = f.read(100)
result = {{
    "listing": listing,
    "size": info["size"],
    "middle": middle.decode(),
    "whole": whole.decode(),
    "chunk": chunk.hex(),
}}
"""


def test_hf_file_system_range_reads(hf_cache_factory, hub_reset, hf_client):
    cache = hf_cache_factory()
    code = FILESYSTEM.format(dataset=DATASET_ID, model=MODEL_ID)

    result = hf_client(code, cache.endpoint)

    train = hub_reset.file_bytes(DATASET_ID, "data/train.csv").decode()
    big = hub_reset.file_bytes(MODEL_ID, "big.bin")
    assert result["listing"] == [
        f"datasets/{DATASET_ID}/data/test.csv",
        f"datasets/{DATASET_ID}/data/train.csv",
    ]
    assert result["size"] == len(train)
    assert result["middle"] == train[5:15]
    assert result["whole"] == train
    assert result["chunk"] == big[1_000_000:1_000_100].hex()
