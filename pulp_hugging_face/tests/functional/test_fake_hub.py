"""The fake hub is faithful: the real huggingface_hub client works directly against it.

No Pulp here. Each client run is a subprocess (huggingface_hub reads HF_ENDPOINT at import time)
with a fresh HF_HOME, so these tests also document what a direct download leaves in a client
cache, the reference that the Pulp tests compare against.
"""

import asyncio
import hashlib
import http.client
import importlib.metadata
import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from pulp_hugging_face.tests.functional.fake_hub import (
    DATASET_ID,
    GATED_ID,
    LARGE_DATASET_ID,
    MODEL_ID,
    PRIVATE_ID,
    SHARDED_MODEL_ID,
    SPACE_ID,
    FakeHub,
)

pytest.importorskip("huggingface_hub")
# huggingface_hub 0.x lists files from repo info `siblings` and ignores tree `xetHash`; 1.x+
# lists the tree. The tests run with any of them (the client runs in this interpreter).
CLIENT_MAJOR = int(importlib.metadata.version("huggingface_hub").split(".")[0])

PARQUET = "parquet/train-00000-of-00001.parquet"
FOLDER_PREFIX = {"model": "models", "dataset": "datasets", "space": "spaces"}


@pytest.fixture(scope="module")
def hub():
    with FakeHub() as hub:
        yield hub


@pytest.fixture(autouse=True)
def clean_hub(hub):
    hub.reset(everything=True)
    yield
    hub.reset(everything=True)


@pytest.fixture
def client(hub, tmp_path):
    """Run a snippet with the real client against the fake hub; it emits one JSON result."""

    def run(code: str, args=None, xet: bool = False, token: str | None = None):
        env = {
            k: v
            for k, v in os.environ.items()
            if "proxy" not in k.lower() and not k.startswith(("HF_", "HUGGING"))
        }
        env.update(
            {
                "HF_ENDPOINT": hub.url,
                "HF_HOME": str(tmp_path / "hf_home"),
                "HF_XET_CACHE": str(tmp_path / "xet_cache"),
                "HF_HUB_DISABLE_TELEMETRY": "1",
                "HF_HUB_DISABLE_PROGRESS_BARS": "1",
                "NO_PROXY": "*",
                "CLIENT_ARGS": json.dumps(args or {}),
            }
        )
        if not xet:
            env["HF_HUB_DISABLE_XET"] = "1"
        if token:
            env["HF_TOKEN"] = token
        prelude = (
            "import json, os\n"
            "ARGS = json.loads(os.environ['CLIENT_ARGS'])\n"
            "def emit(result): print('RESULT ' + json.dumps(result))\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", prelude + textwrap.dedent(code)],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        results = [line[7:] for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        assert proc.returncode == 0 and results, f"client failed:\n{proc.stdout}\n{proc.stderr}"
        return json.loads(results[-1])

    run.cache = tmp_path / "hf_home" / "hub"
    return run


def cache_folder(client, repo_type: str, repo_id: str) -> Path:
    return client.cache / f"{FOLDER_PREFIX[repo_type]}--{repo_id.replace('/', '--')}"


def raw(hub, method: str, path: str, headers=None, origin=None):
    """One HTTP request, redirects not followed: (status, headers, body)."""
    url = urllib.parse.urlsplit(origin or hub.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


DOWNLOAD = """
from huggingface_hub import hf_hub_download
emit([hf_hub_download(c["repo_id"], c["filename"], repo_type=c["repo_type"],
                      revision=c["revision"]) for c in ARGS["cases"]])
"""


def test_hf_hub_download(hub, client):
    repos = hub.repos()["repos"]
    sha_a = repos[MODEL_ID]["commits"]["A"]
    cases = [
        ("model", MODEL_ID, "config.json", "main", "A"),
        ("model", MODEL_ID, "big.bin", "main", "A"),  # LFS through the CDN
        ("model", MODEL_ID, "xet/weights.bin", "main", "A"),  # Xet-backed, here over HTTP
        ("model", MODEL_ID, "model.safetensors", "main", "A"),  # the real 90 MB model
        ("model", MODEL_ID, "tokenizer_config.json", "v1.0", "A"),
        ("model", MODEL_ID, "pr-only.txt", "refs/pr/1", "C"),
        ("model", MODEL_ID, "1_Pooling/config.json", sha_a, "A"),
        ("model", MODEL_ID, "docs/read me.txt", "main", "A"),
        ("model", MODEL_ID, "docs/naïve-日本.txt", "main", "A"),
        ("dataset", DATASET_ID, "data/train.csv", "main", "A"),
        ("dataset", DATASET_ID, PARQUET, "refs/convert/parquet", "A"),
        ("space", SPACE_ID, "app.py", "main", "A"),
    ]
    args = [{"repo_type": t, "repo_id": i, "filename": f, "revision": r} for t, i, f, r, _ in cases]
    paths = client(DOWNLOAD, {"cases": args})

    for (repo_type, repo_id, filename, revision, label), path in zip(cases, paths, strict=True):
        repo = repos[repo_id]
        sha, facts = repo["commits"][label], repo["files"][label][filename]
        folder = cache_folder(client, repo_type, repo_id)
        assert Path(path) == folder / "snapshots" / sha / filename
        # The blob is named after the etag: git sha1 for regular files, sha256 for LFS ones.
        blob = Path(os.path.realpath(path))
        assert blob == folder / "blobs" / (facts["sha256"] if facts["lfs"] else facts["git_sha1"])
        assert blob.name == facts["etag"]
        content = blob.read_bytes()
        assert len(content) == facts["size"]
        assert hashlib.sha256(content).hexdigest() == facts["sha256"]
        if facts["size"] < 1 << 20:
            assert content == hub.file_bytes(repo_id, filename, revision)
        if revision != sha:
            assert (folder / "refs" / revision).read_text() == sha

    # The bytes of the 4 LFS files (big.bin, xet/weights.bin, model.safetensors, the parquet
    # file) came from the CDN (the Xet one from the Xet bridge), those of regular files from the
    # hub.
    cdn_requests = hub.stats()["cdn_requests"]
    cdn_blobs = {r["file"] for r in cdn_requests}
    assert {r["file"] for r in cdn_requests if r["origin"] == "bridge"} == {
        repos[MODEL_ID]["files"]["A"]["xet/weights.bin"]["sha256"]
    }
    lfs = {
        f["sha256"]
        for _, i, p, _, label in cases
        for f in [repos[i]["files"][label][p]]
        if f["lfs"]
    }
    assert cdn_blobs == lfs and len(lfs) == 4


def test_download_counts(hub, client):
    """A regular file is a HEAD on resolve (307), then a HEAD and a GET on resolve-cache, all on
    the hub; an LFS file a HEAD there, a GET at the CDN."""
    client(
        DOWNLOAD,
        {
            "cases": [
                {
                    "repo_type": "model",
                    "repo_id": MODEL_ID,
                    "filename": "config.json",
                    "revision": "main",
                }
            ]
        },
    )
    stats = hub.stats()
    assert [(r["method"], r["kind"], r["action"], r["status"]) for r in stats["requests"]] == [
        ("HEAD", "resolve", "resolve", 307),
        ("HEAD", "resolve", "resolve-cache", 200),
        ("GET", "resolve", "resolve-cache", 200),
    ]
    assert stats["by_kind"] == {"resolve": 3}
    hub.reset()
    client(
        DOWNLOAD,
        {
            "cases": [
                {
                    "repo_type": "model",
                    "repo_id": MODEL_ID,
                    "filename": "big.bin",
                    "revision": "main",
                }
            ]
        },
    )
    stats = hub.stats()
    assert [(r["method"], r["kind"], r["action"], r["status"]) for r in stats["requests"]] == [
        ("HEAD", "resolve", "resolve", 302),
        ("GET", "cdn", "cdn", 200),
    ]
    assert stats["total"] == 2 and stats["by_kind"] == {"resolve": 1, "cdn": 1}
    assert stats["cdn_requests"][0]["headers"]["Host"] == hub.cdn_url.split("//")[1]
    # body bytes per request and kind: the HEAD has none, the CDN served the file once
    size = len(hub.file_bytes(MODEL_ID, "big.bin"))
    assert [(r["bytes"], r["done"]) for r in stats["requests"]] == [(0, True), (size, True)]
    assert stats["bytes_by_kind"] == {"resolve": 0, "cdn": size}
    hub.reset()
    assert hub.stats() == {
        "total": 0,
        "by_kind": {},
        "bytes_by_kind": {},
        "requests": [],
        "cdn_requests": [],
    }


def test_private_repo_with_token_never_leaks_it_to_the_cdn(hub, client):
    paths = client(
        DOWNLOAD,
        {
            "cases": [
                {"repo_type": "model", "repo_id": PRIVATE_ID, "filename": f, "revision": "main"}
                for f in ("config.json", "weights.bin")
            ]
        },
        token=hub.token,
    )
    assert Path(paths[1]).read_bytes() == hub.file_bytes(PRIVATE_ID, "weights.bin")
    stats = hub.stats()
    # config.json: resolve (307), resolve-cache HEAD and GET; weights.bin: resolve (302), CDN.
    assert stats["by_kind"] == {"resolve": 4, "cdn": 1}
    hub_requests = [r for r in stats["requests"] if r["origin"] == "hub"]
    assert all(r["authorization"] == f"Bearer {hub.token}" for r in hub_requests)
    assert "Authorization" not in stats["cdn_requests"][0]["headers"]
    assert stats["cdn_requests"][0]["authorization"] is None


def test_xet_is_advertised(hub, client):
    repo = hub.repo(MODEL_ID)
    facts, sha = repo["files"]["A"]["xet/weights.bin"], repo["commits"]["A"]
    status, headers, _ = raw(hub, "HEAD", f"/{MODEL_ID}/resolve/main/xet/weights.bin")
    assert status == 302
    assert headers["X-Xet-Hash"] == facts["xet_hash"]
    token_url = f"{hub.url}/api/models/{MODEL_ID}/xet-read-token/{sha}"
    assert f'<{token_url}>; rel="xet-auth"' in headers["Link"]
    assert headers["X-Xet-Refresh-Route"] == token_url
    assert headers["X-Linked-Etag"] == f'"{facts["sha256"]}"'
    assert headers["X-Linked-Size"] == str(facts["size"])
    location = urllib.parse.urlsplit(headers["Location"])
    assert headers["Location"].startswith(f"{hub.bridge_url}/xet-bridge-us/")
    assert location.path.endswith(f"/{facts['xet_hash']}")

    status, headers, _ = raw(hub, "GET", token_url.removeprefix(hub.url))
    assert status == 200 and headers["X-Xet-Cas-Url"] == f"{hub.url}/_fake/cas"
    assert headers["X-Xet-Access-Token"] and int(headers["X-Xet-Token-Expiration"]) > 0
    assert hub.count("xet") == 1

    # A client with hf_xet takes the Xet road for this file: it asks for a Xet token. (The fake
    # has no CAS server, so that download fails; a cache in front must never let this happen.)
    hub.reset()
    result = client(
        """
        from huggingface_hub import hf_hub_download
        try:
            hf_hub_download(ARGS["repo_id"], "xet/weights.bin")
            emit("downloaded")
        except Exception as exc:
            emit(type(exc).__name__)
    """,
        {"repo_id": MODEL_ID},
        xet=True,
    )
    assert result != "downloaded"
    assert hub.count("xet") >= 1 and hub.count("cdn") == 0

    # Without Xet, the same file is a plain LFS file on the CDN.
    hub.configure(xet=False)
    status, headers, _ = raw(hub, "HEAD", f"/{MODEL_ID}/resolve/main/xet/weights.bin")
    assert status == 302 and "X-Xet-Hash" not in headers and "Link" not in headers
    assert headers["Location"].startswith(f"{hub.cdn_url}/cdn/{facts['sha256']}?")


def test_snapshot_download_paginates_the_tree(hub, client):
    hub.configure(page_size=3)
    repo = hub.repo(MODEL_ID)
    sha, files = repo["commits"]["A"], repo["files"]["A"]
    result = client(
        """
        from huggingface_hub import snapshot_download
        emit([snapshot_download(ARGS["repo_id"]),
              snapshot_download(ARGS["repo_id"], revision="v1.0",
                                allow_patterns=["*.json", "docs/*"], local_dir=ARGS["local"])])
    """,
        {"repo_id": MODEL_ID, "local": str(client.cache.parent / "local")},
    )
    snapshot, local = Path(result[0]), Path(result[1])
    assert snapshot == cache_folder(client, "model", MODEL_ID) / "snapshots" / sha
    found = {p.relative_to(snapshot).as_posix() for p in snapshot.rglob("*") if p.is_file()}
    assert found == set(files)
    for path, facts in files.items():
        blob = Path(os.path.realpath(snapshot / path))
        assert blob.name == facts["etag"] and blob.stat().st_size == facts["size"]

    allowed = {p for p in files if p.endswith(".json") or p.startswith("docs/")}
    found = {
        p.relative_to(local).as_posix()
        for p in local.rglob("*")
        if p.is_file() and ".cache" not in p.parts
    }
    assert found == allowed
    assert (local / "docs" / "read me.txt").read_bytes() == hub.file_bytes(
        MODEL_ID, "docs/read me.txt"
    )

    # 1.x+: one recursive listing of the files and 3 directories (1_Pooling, docs, xet), 3 a page.
    tree_calls = [r for r in hub.stats()["requests"] if "/tree/" in r["path"]]
    if CLIENT_MAJOR == 0:
        return
    assert len(tree_calls) >= -(-(len(files) + 3) // 3)
    assert sum("cursor=" in r["query"] for r in tree_calls) >= len(tree_calls) // 2
    assert all(r["status"] == 200 for r in tree_calls)


def test_hf_api(hub, client):
    hub.configure(page_size=3)
    repo = hub.repo(MODEL_ID)
    sha, files = repo["commits"]["A"], repo["files"]["A"]
    result = client(
        """
        from huggingface_hub import HfApi
        api = HfApi()
        info = api.model_info(ARGS["repo_id"])
        full = api.model_info(ARGS["repo_id"], revision="refs/pr/1", files_metadata=True)
        tree = list(api.list_repo_tree(ARGS["repo_id"], recursive=True))
        docs = list(api.list_repo_tree(ARGS["repo_id"], path_in_repo="docs", expand=True))
        paths = api.get_paths_info(ARGS["repo_id"], ["config.json", "docs", "big.bin", "nope"])
        refs = api.list_repo_refs(ARGS["repo_id"], include_pull_requests=True)
        dataset = api.dataset_info(ARGS["dataset"], revision="refs/convert/parquet")
        space = api.space_info(ARGS["space"])
        emit({
            "info": [info.id, info.sha, info.library_name, info.pipeline_tag, info.private,
                     info.card_data["license"], sorted(s.rfilename for s in info.siblings)],
            "full": [full.sha, {s.rfilename: [s.size, s.blob_id, s.lfs and s.lfs.sha256]
                                for s in full.siblings}],
            "tree": {e.path: [type(e).__name__, getattr(e, "size", None),
                              getattr(e, "lfs", None) and e.lfs.sha256,
                              getattr(e, "xet_hash", None)] for e in tree},
            "docs": [[e.path, e.last_commit.oid] for e in docs],
            "paths": [[e.path, type(e).__name__] for e in paths],
            "refs": [[r.name, r.target_commit] for r in refs.branches + refs.tags
                     + refs.pull_requests],
            "dataset": [dataset.sha, dataset.card_data["configs"][0]["config_name"]],
            "space": [space.sha, space.sdk],
        })
    """,
        {"repo_id": MODEL_ID, "dataset": DATASET_ID, "space": SPACE_ID},
    )

    assert result["info"] == [
        MODEL_ID,
        sha,
        "sentence-transformers",
        "sentence-similarity",
        False,
        "apache-2.0",
        sorted(files),
    ]
    sha_c, files_c = repo["commits"]["C"], repo["files"]["C"]
    assert result["full"][0] == sha_c
    assert result["full"][1] == {
        p: [f["size"], f["oid"], f["sha256"] if f["lfs"] else None] for p, f in files_c.items()
    }
    dirs = {"1_Pooling", "docs", "xet"}
    assert set(result["tree"]) == set(files) | dirs
    for path in dirs:
        assert result["tree"][path][0] == "RepoFolder"
    for path, f in files.items():
        assert result["tree"][path] == [
            "RepoFile",
            f["size"],
            f["sha256"] if f["lfs"] else None,
            f["xet_hash"] if CLIENT_MAJOR >= 1 else None,
        ]
    assert result["docs"] == [
        ["docs/empty.txt", sha],
        ["docs/naïve-日本.txt", sha],
        ["docs/read me.txt", sha],
    ]
    # The recursive listing came in pages of 3, following the Link headers.
    pages = [r for r in hub.stats()["requests"] if "/tree/main?" in r["path"] + "?"]
    pages = [r for r in pages if "recursive=true" in r["query"].lower()]
    assert len(pages) == -(-len(result["tree"]) // 3)
    assert all("cursor=" in r["query"] for r in pages[1:])
    assert result["paths"] == [
        ["config.json", "RepoFile"],
        ["docs", "RepoFolder"],
        ["big.bin", "RepoFile"],
    ]
    assert result["refs"] == [["main", sha], ["v1.0", sha], ["refs/pr/1", sha_c]]
    assert result["dataset"] == [hub.commit_sha(DATASET_ID, "A"), "default"]
    assert result["space"] == [hub.commit_sha(SPACE_ID, "A"), "gradio"]


def test_hf_file_system(hub, client):
    big = hub.file_bytes(MODEL_ID, "big.bin")
    config = hub.file_bytes(MODEL_ID, "config.json")
    parquet = hub.file_bytes(DATASET_ID, PARQUET)
    result = client(
        """
        from huggingface_hub import HfFileSystem
        fs = HfFileSystem()
        m, d = ARGS["model"], "datasets/" + ARGS["dataset"]
        out = {"ls": sorted(fs.ls(f"{m}/docs", detail=False)),
               "info": [fs.info(f"{m}/big.bin")["size"], fs.info(f"{m}/docs")["type"]]}
        with fs.open(f"{m}/big.bin", "rb") as f:
            f.seek(10)
            out["big"] = f.read(20).hex()
        with fs.open(f"{m}/config.json", "rb") as f:
            f.seek(10)
            out["config"] = f.read(20).hex()
        parquet = f"{d}@refs%2Fconvert%2Fparquet/parquet/train-00000-of-00001.parquet"
        with fs.open(parquet, "rb") as f:
            f.seek(-8, 2)
            out["footer"] = f.read().hex()
        out["exists"] = [fs.exists(f"{m}/docs/read me.txt"), fs.exists(f"{m}/missing.txt")]
        emit(out)
    """,
        {"model": MODEL_ID, "dataset": DATASET_ID},
    )
    assert result["ls"] == [
        f"{MODEL_ID}/docs/empty.txt",
        f"{MODEL_ID}/docs/naïve-日本.txt",
        f"{MODEL_ID}/docs/read me.txt",
    ]
    assert result["info"] == [len(big), "directory"]
    assert bytes.fromhex(result["big"]) == big[10:30]
    assert bytes.fromhex(result["config"]) == config[10:30]
    assert bytes.fromhex(result["footer"]) == parquet[-8:] and parquet.endswith(b"PAR1")
    assert result["exists"] == [True, False]
    # Range reads: LFS files are redirected (302) to the CDN, small ones (307) to resolve-cache;
    # both answer 206.
    ranged = {
        (r["kind"], r["action"], r["file"], r["status"])
        for r in hub.stats()["requests"]
        if r["range"]
    }
    lfs = {
        hub.repo(MODEL_ID)["files"]["A"]["big.bin"]["sha256"],
        hub.repo(DATASET_ID)["files"]["A"][PARQUET]["sha256"],
    }
    assert ranged == {
        ("resolve", "resolve", "big.bin", 302),
        ("resolve", "resolve", "config.json", 307),
        ("resolve", "resolve-cache", "config.json", 206),
        ("resolve", "resolve", PARQUET, 302),
    } | {("cdn", "cdn", sha, 206) for sha in lfs}


def test_error_mapping(hub, client):
    result = client(
        """
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub import errors

        def attempt(repo_id, filename="config.json", **kw):
            try:
                hf_hub_download(repo_id, filename, **kw)
                return ["ok"]
            except Exception as exc:
                return [name for name in ("EntryNotFoundError", "RevisionNotFoundError",
                                          "GatedRepoError", "RepositoryNotFoundError")
                        if isinstance(exc, getattr(errors, name))]

        emit({
            "missing_file": attempt(ARGS["model"], "missing.txt"),
            "bad_revision": attempt(ARGS["model"], revision="no-such-branch"),
            "unknown_repo": attempt("fake-org/does-not-exist"),
            "unknown_repo_token": attempt("fake-org/does-not-exist", token="hf_other"),
            "wrong_type": attempt(ARGS["model"], repo_type="dataset"),
            "gated": attempt(ARGS["gated"]),
            "gated_wrong_token": attempt(ARGS["gated"], token="hf_other"),
            "gated_token": attempt(ARGS["gated"], token=ARGS["token"]),
            "private": attempt(ARGS["private"]),
            "private_wrong_token": attempt(ARGS["private"], token="hf_other"),
            "private_token": attempt(ARGS["private"], "weights.bin", token=ARGS["token"]),
            "private_info": HfApi(token=ARGS["token"]).model_info(ARGS["private"]).private,
        })
    """,
        {"model": MODEL_ID, "gated": GATED_ID, "private": PRIVATE_ID, "token": hub.token},
    )
    not_found = ["RepositoryNotFoundError"]
    assert result == {
        "missing_file": ["EntryNotFoundError"],
        "bad_revision": ["RevisionNotFoundError"],
        "unknown_repo": not_found,
        "unknown_repo_token": not_found,
        "wrong_type": not_found,
        "gated": ["GatedRepoError", "RepositoryNotFoundError"],
        "gated_wrong_token": ["GatedRepoError", "RepositoryNotFoundError"],
        "gated_token": ["ok"],
        "private": not_found,
        "private_wrong_token": not_found,
        "private_token": ["ok"],
        "private_info": True,
    }
    # A missing file is a 404 that still names the commit (the client's .no_exist marker).
    sha = hub.commit_sha(MODEL_ID, "A")
    assert (cache_folder(client, "model", MODEL_ID) / ".no_exist" / sha / "missing.txt").exists()
    statuses = {
        (r["repo_id"], r["authorization"] is not None): r["status"]
        for r in hub.stats()["requests"]
        if r["file"] == "config.json"
    }
    assert statuses[("fake-org/does-not-exist", False)] == 401
    assert statuses[("fake-org/does-not-exist", True)] == 404
    assert statuses[(GATED_ID, False)] == 401


def test_error_responses_look_like_the_hub(hub):
    status, headers, body = raw(hub, "GET", f"/{MODEL_ID}/resolve/main/missing.txt")
    assert (status, headers["X-Error-Code"]) == (404, "EntryNotFound")
    assert headers["X-Repo-Commit"] == hub.commit_sha(MODEL_ID, "A")
    assert json.loads(body) == {"error": "Entry not found"}
    status, headers, _ = raw(hub, "GET", f"/api/models/{MODEL_ID}/revision/nope")
    assert (status, headers["X-Error-Code"]) == (404, "RevisionNotFound")
    status, headers, _ = raw(hub, "GET", f"/api/models/{PRIVATE_ID}/tree/main")
    assert (status, headers["X-Error-Code"], headers["X-Error-Message"]) == (
        401,
        "RepoNotFound",
        "Repository not found",
    )
    status, headers, _ = raw(hub, "GET", f"/api/models/{MODEL_ID}/tree/main/nope")
    assert (status, headers["X-Error-Code"]) == (404, "EntryNotFound")
    unsatisfiable = {"Range": "bytes=100000-"}
    status, headers, _ = raw(hub, "GET", f"/{MODEL_ID}/resolve/main/config.json", unsatisfiable)
    assert status == 307  # the range is for the final answer
    status, headers, body = raw(hub, "GET", headers["Location"], unsatisfiable)
    assert (
        status == 416
        and headers["Content-Range"] == f"bytes */{len(hub.file_bytes(MODEL_ID, 'config.json'))}"
    )


def test_transient_5xx_is_retried_and_other_faults(hub, client):
    hub.configure(fault="5xx", fault_target="resolve", fault_count=1)
    paths = client(
        DOWNLOAD,
        {
            "cases": [
                {
                    "repo_type": "model",
                    "repo_id": MODEL_ID,
                    "filename": "config.json",
                    "revision": "main",
                }
            ]
        },
    )
    assert Path(paths[0]).read_bytes() == hub.file_bytes(MODEL_ID, "config.json")
    statuses = [r["status"] for r in hub.stats()["requests"]]
    assert statuses[0] == 503 and statuses[-1] == 200

    hub.configure(fault="5xx", fault_target="api")
    status, headers, body = raw(hub, "GET", f"/api/models/{MODEL_ID}")
    assert status == 503 and "error" in json.loads(body) and headers["X-Error-Message"]
    status, _, _ = raw(hub, "HEAD", f"/{MODEL_ID}/resolve/main/config.json")
    assert status == 307  # not targeted
    hub.configure(fault="429", retry_after=7)
    status, headers, _ = raw(hub, "GET", f"/{MODEL_ID}/resolve/main/config.json")
    assert (status, headers["Retry-After"]) == (429, "7")
    hub.configure(fault=None)
    assert raw(hub, "GET", f"/api/models/{MODEL_ID}")[0] == 200


@pytest.mark.parametrize("fault", ["drop", "short", "corrupt"])
def test_body_faults(hub, fault):
    _, headers, _ = raw(hub, "HEAD", f"/{MODEL_ID}/resolve/main/big.bin")
    location = urllib.parse.urlsplit(headers["Location"])
    expected = hub.file_bytes(MODEL_ID, "big.bin")
    hub.configure(fault=fault, fault_target="cdn")
    conn = http.client.HTTPConnection(location.hostname, location.port, timeout=30)
    conn.request("GET", f"{location.path}?{location.query}")
    response = conn.getresponse()
    assert response.status == 200 and int(response.headers["Content-Length"]) == len(expected)
    try:
        body = response.read()
    except (http.client.IncompleteRead, ConnectionError) as exc:
        body = getattr(exc, "partial", b"")
    finally:
        conn.close()
    if fault == "corrupt":
        assert len(body) == len(expected) and body != expected
    else:
        assert len(body) < len(expected) and expected.startswith(body)


def test_body_rate_throttles_cdn_bodies_and_bytes_count_what_was_sent(hub):
    _, headers, _ = raw(hub, "HEAD", f"/{MODEL_ID}/resolve/main/big.bin")
    location = urllib.parse.urlsplit(headers["Location"])
    hub.configure(body_rate=2_000_000)
    started = time.monotonic()
    status, _, body = raw(
        hub,
        "GET",
        f"{location.path}?{location.query}",
        headers={"Range": "bytes=0-999999"},
        origin=hub.cdn_url,
    )
    elapsed = time.monotonic() - started
    assert status == 206 and len(body) == 1_000_000
    assert 0.4 < elapsed < 3, elapsed  # 1 MB at 2 MB/s
    # A client that goes away half way: the log counts what was written to it.
    conn = http.client.HTTPConnection(location.hostname, location.port, timeout=30)
    conn.request("GET", f"{location.path}?{location.query}")
    response = conn.getresponse()
    response.read(500_000)
    conn.close()
    deadline = time.monotonic() + 10
    while not (entry := hub.stats()["cdn_requests"][-1])["done"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert entry["bytes"] < len(hub.file_bytes(MODEL_ID, "big.bin")) // 2, entry["bytes"]
    assert entry["peer"].startswith("127.0.0.1:")
    assert hub.stats()["bytes_by_kind"]["cdn"] == 1_000_000 + entry["bytes"]


def test_move_branch(hub, client):
    script = """
        from huggingface_hub import HfApi, hf_hub_download
        repo_id = ARGS["repo_id"]
        emit([hf_hub_download(repo_id, "config.json"), HfApi().model_info(repo_id).sha])
    """
    sha_a, sha_b = hub.commit_sha(MODEL_ID, "A"), hub.commit_sha(MODEL_ID, "B")
    path_a, info_sha = client(script, {"repo_id": MODEL_ID})
    assert info_sha == sha_a and f"/snapshots/{sha_a}/" in path_a
    hub.move_branch(MODEL_ID, "B")
    assert hub.repo(MODEL_ID)["refs"]["main"] == sha_b
    path_b, info_sha = client(script, {"repo_id": MODEL_ID})
    assert info_sha == sha_b and f"/snapshots/{sha_b}/" in path_b
    assert json.loads(Path(path_b).read_text())["fake_hub_revision"] == "B"
    assert "fake_hub_revision" not in json.loads(Path(path_a).read_text())
    folder = cache_folder(client, "model", MODEL_ID)
    assert (folder / "refs" / "main").read_text() == sha_b
    assert raw(hub, "HEAD", f"/{MODEL_ID}/resolve/main/new-in-b.txt")[0] == 307
    assert raw(hub, "HEAD", f"/{MODEL_ID}/resolve/{sha_a}/new-in-b.txt")[0] == 404
    hub.move_branch(MODEL_ID, sha_a)
    assert hub.commit_sha(MODEL_ID, "main") == sha_a


def test_restart_keeps_ports(hub):
    urls = hub.url, hub.cdn_url, hub.bridge_url
    hub.stop()
    with pytest.raises(OSError):
        raw(hub, "GET", "/_fake/stats")
    hub.start()
    assert (hub.url, hub.cdn_url, hub.bridge_url) == urls
    assert len({urllib.parse.urlsplit(url).port for url in urls}) == 3
    assert hub.count() == 0


def test_answers_arrive_in_pieces(hub):
    """A large answer comes in several reads, as over TLS: reading "what is there" is not enough."""
    aiohttp = pytest.importorskip("aiohttp")

    async def reads(path):
        async with aiohttp.ClientSession() as session, session.get(hub.url + path) as response:
            pieces = []
            while piece := await response.content.read(1 << 20):
                pieces.append(piece)
            return response.headers, pieces

    headers, pieces = asyncio.run(reads(f"/api/datasets/{LARGE_DATASET_ID}?blobs=true"))
    body = b"".join(pieces)
    assert int(headers["Content-Length"]) == len(body) > 256 * 1024
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert "Transfer-Encoding" not in headers
    assert len(pieces) > 1 and len(pieces[0]) < len(body)
    assert len(json.loads(body)["siblings"]) >= 5000

    # So is the body of a small file (vocab.txt, 231 KB), from resolve-cache.
    _, redirect, _ = raw(hub, "HEAD", f"/{MODEL_ID}/resolve/main/vocab.txt")
    headers, pieces = asyncio.run(reads(redirect["Location"]))
    body = b"".join(pieces)
    assert body == hub.file_bytes(MODEL_ID, "vocab.txt") and len(body) > 64 * 1024
    assert int(headers["Content-Length"]) == len(body)
    assert len(pieces) > 1 and len(pieces[0]) < len(body)

    # Smaller pieces, longer pauses: more reads.
    hub.configure(piece_size=4096, piece_pause=0.005)
    _, pieces = asyncio.run(reads(f"/api/datasets/{LARGE_DATASET_ID}/tree/main?recursive=1"))
    assert len(pieces) > 2 and max(map(len, pieces)) < len(b"".join(pieces)) // 2
    assert hub.configure(piece_size=None)["piece_size"] is None
    with pytest.raises(urllib.error.HTTPError):
        hub.configure(piece_size=-1)


def test_small_file_resolve_is_a_relative_307_to_resolve_cache(hub):
    """huggingface.co's shape: relative, at the commit, the original path as a key, the etag."""
    repo = hub.repo(MODEL_ID)
    sha_a, sha_c = repo["commits"]["A"], repo["commits"]["C"]
    cases = [
        (f"/{MODEL_ID}/resolve/main/config.json", "config.json", sha_a, "A"),
        (f"/{MODEL_ID}/resolve/refs%2Fpr%2F1/pr-only.txt", "pr-only.txt", sha_c, "C"),
        (
            f"/{MODEL_ID}/resolve/v1.0/docs/na%C3%AFve-%E6%97%A5%E6%9C%AC.txt",
            "docs/naïve-日本.txt",
            sha_a,
            "A",
        ),
    ]
    for method in ("HEAD", "GET"):
        for path, filename, sha, label in cases:
            facts = repo["files"][label][filename]
            status, headers, body = raw(hub, method, path)
            assert status == 307
            key = urllib.parse.quote(urllib.parse.unquote(path), safe="")
            assert headers["Location"] == (
                f"/api/resolve-cache/models/{MODEL_ID}/{sha}/{urllib.parse.quote(filename)}"
                f"?{key}=&etag=%22{facts['git_sha1']}%22"
            )
            assert headers["X-Repo-Commit"] == sha
            for name in ("ETag", "X-Linked-Etag", "X-Linked-Size", "Accept-Ranges"):
                assert name not in headers, name
            redirecting = f"Temporary Redirect. Redirecting to {headers['Location']}"
            assert body == (redirecting.encode() if method == "GET" else b"")
    # An original query string is kept instead of the path key.
    _, headers, _ = raw(hub, "GET", f"/datasets/{DATASET_ID}/resolve/main/README.md?download=true")
    location = urllib.parse.urlsplit(headers["Location"])
    assert location.path.startswith(f"/api/resolve-cache/datasets/{DATASET_ID}/")
    assert location.query.startswith("download=true&etag=%22")
    assert {(r["kind"], r["action"], r["status"]) for r in hub.stats()["requests"]} == {
        ("resolve", "resolve", 307)
    }


def test_resolve_cache_has_the_metadata_and_the_body(hub):
    sha = hub.commit_sha(MODEL_ID, "A")
    facts = hub.repo(MODEL_ID)["files"]["A"]["docs/read me.txt"]
    expected = hub.file_bytes(MODEL_ID, "docs/read me.txt")
    _, headers, _ = raw(hub, "HEAD", f"/{MODEL_ID}/resolve/main/docs/read%20me.txt")
    location = headers["Location"]
    hub.reset()

    status, headers, body = raw(hub, "HEAD", location)
    assert (status, body) == (200, b"")
    assert headers["X-Repo-Commit"] == sha
    assert headers["ETag"] == f'"{facts["git_sha1"]}"'
    assert headers["Content-Length"] == str(facts["size"]) == str(len(expected))
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "Location" not in headers
    status, get_headers, body = raw(hub, "GET", location)
    assert (status, body) == (200, expected)
    assert get_headers["ETag"] == headers["ETag"]
    status, headers, body = raw(hub, "GET", location, {"Range": "bytes=2-5"})
    assert (status, body) == (206, expected[2:6])
    assert headers["Content-Range"] == f"bytes 2-5/{len(expected)}"
    assert headers["X-Repo-Commit"] == sha

    # Counted as resolve requests; the action tells them from resolve itself.
    stats = hub.stats()
    assert stats["by_kind"] == {"resolve": 3}
    assert {(r["action"], r["revision"], r["file"]) for r in stats["requests"]} == {
        ("resolve-cache", sha, "docs/read me.txt")
    }
    # Missing files, private repos: the same answers as resolve gives.
    status, headers, _ = raw(hub, "HEAD", f"/api/resolve-cache/models/{MODEL_ID}/{sha}/nope.txt")
    assert (status, headers["X-Error-Code"], headers["X-Repo-Commit"]) == (
        404,
        "EntryNotFound",
        sha,
    )
    private = (
        f"/api/resolve-cache/models/{PRIVATE_ID}/{hub.commit_sha(PRIVATE_ID, 'A')}/config.json"
    )
    assert raw(hub, "HEAD", private)[0] == 401
    auth = {"Authorization": f"Bearer {hub.token}"}
    assert raw(hub, "GET", private, auth)[2] == hub.file_bytes(PRIVATE_ID, "config.json")


def test_xet_file_resolves_with_a_302_to_the_bridge_host(hub):
    """Like cas-bridge.xethub.hf.co: another origin, the whole file over plain HTTP, ranges."""
    repo = hub.repo(MODEL_ID)
    facts, sha = repo["files"]["A"]["xet/weights.bin"], repo["commits"]["A"]
    expected = hub.file_bytes(MODEL_ID, "xet/weights.bin")
    status, headers, _ = raw(hub, "HEAD", f"/{MODEL_ID}/resolve/main/xet/weights.bin")
    assert status == 302
    assert headers["X-Repo-Commit"] == sha
    assert headers["X-Xet-Hash"] == facts["xet_hash"]
    assert headers["X-Linked-Etag"] == f'"{facts["sha256"]}"'
    assert headers["X-Linked-Size"] == str(facts["size"])
    assert 'rel="xet-auth"' in headers["Link"]
    location = urllib.parse.urlsplit(headers["Location"])
    origins = {urllib.parse.urlsplit(u).netloc for u in (hub.url, hub.cdn_url, hub.bridge_url)}
    assert location.netloc == urllib.parse.urlsplit(hub.bridge_url).netloc and len(origins) == 3
    query = urllib.parse.parse_qs(location.query)
    assert query["Expires"] and query["Signature"]
    target = f"{location.path}?{location.query}"

    hub.reset()
    status, headers, body = raw(hub, "GET", target, origin=hub.bridge_url)
    assert (status, body) == (200, expected)
    assert headers["Content-Length"] == str(len(expected))
    assert headers["Accept-Ranges"] == "bytes"
    assert "weights.bin" in headers["Content-Disposition"]
    status, headers, body = raw(hub, "GET", target, {"Range": "bytes=-100"}, origin=hub.bridge_url)
    assert (status, body) == (206, expected[-100:])
    assert (
        headers["Content-Range"]
        == f"bytes {len(expected) - 100}-{len(expected) - 1}/{len(expected)}"
    )
    assert raw(hub, "HEAD", target, origin=hub.bridge_url)[0] == 200
    # Signed like the CDN: a changed signature, or the hub's CDN path, is refused.
    tampered = target.replace(query["Signature"][0], "0" * 32)
    assert raw(hub, "GET", tampered, origin=hub.bridge_url)[0] == 403
    assert raw(hub, "GET", f"/cdn/{facts['sha256']}", origin=hub.bridge_url)[0] == 404

    # Counted as kind cdn (so CDN faults hit it too), told apart by origin and action.
    stats = hub.stats()
    assert stats["by_kind"] == {"cdn": 4, "other": 1}
    seen = {
        (r["origin"], r["action"], r["file"]) for r in stats["cdn_requests"] if r["kind"] == "cdn"
    }
    assert seen == {("bridge", "bridge", facts["sha256"])}
    hub.reset()
    hub.configure(fault="short", fault_target="cdn")
    assert raw(hub, "HEAD", target, origin=hub.bridge_url)[0] == 200  # no body, no fault
    with pytest.raises(http.client.IncompleteRead):
        raw(hub, "GET", target, origin=hub.bridge_url)
    assert [r["fault"] for r in hub.stats()["requests"]] == [None, "short"]


def test_xet_enabled_and_xet_hash_in_info_siblings(hub, client):
    """Xet repos say so in their info; with blobs=true their siblings carry `xetHash`."""

    def info(repo_type, repo_id, query=""):
        status, _, body = raw(hub, "GET", f"/api/{repo_type}s/{repo_id}{query}")
        assert status == 200
        return json.loads(body)

    files = hub.repo(MODEL_ID)["files"]["A"]
    xet_hashes = {p: f["xet_hash"] for p, f in files.items() if f["xet"]}
    assert xet_hashes == {"xet/weights.bin": files["xet/weights.bin"]["xet_hash"]}
    full = info("model", MODEL_ID, "?blobs=true")
    assert full["xetEnabled"] is True
    assert {s["rfilename"]: s["xetHash"] for s in full["siblings"] if "xetHash" in s} == xet_hashes
    assert all("xetHash" not in s for s in info("model", MODEL_ID)["siblings"])
    assert info("model", MODEL_ID, "?expand=xetEnabled") == {
        "_id": full["_id"],
        "id": MODEL_ID,
        "xetEnabled": True,
    }
    assert info("dataset", DATASET_ID)["xetEnabled"] is False  # no Xet files
    large = info("dataset", LARGE_DATASET_ID, "?blobs=true")
    assert large["xetEnabled"] is True
    parquet = [s for s in large["siblings"] if s["rfilename"].endswith(".parquet")]
    assert parquet and all(s["xetHash"] and s["lfs"]["sha256"] for s in parquet)

    # The real client reads the info (it keeps no xetHash of siblings; xetEnabled as is).
    result = client(
        """
        from huggingface_hub import HfApi
        info = HfApi().model_info(ARGS["repo_id"], files_metadata=True)
        emit([getattr(info, "xetEnabled", getattr(info, "xet_enabled", None)),
              {s.rfilename: s.lfs and s.lfs.sha256 for s in info.siblings}])
    """,
        {"repo_id": MODEL_ID},
    )
    assert result == [True, {p: f["sha256"] if f["lfs"] else None for p, f in files.items()}]

    hub.configure(xet=False)
    full = info("model", MODEL_ID, "?blobs=true")
    assert full["xetEnabled"] is False and all("xetHash" not in s for s in full["siblings"])


def test_large_dataset_lists_its_5000_files_through_the_client(hub, client):
    files = hub.repo(LARGE_DATASET_ID)["files"]["A"]
    dirs = {p.rsplit("/", i)[0] for p in files for i in range(1, p.count("/") + 1)}
    assert len(files) >= 5000
    result = client(
        """
        from huggingface_hub import HfApi
        api = HfApi()
        tree = list(api.list_repo_tree(ARGS["repo_id"], repo_type="dataset", recursive=True))
        files = api.list_repo_files(ARGS["repo_id"], repo_type="dataset")
        info = api.dataset_info(ARGS["repo_id"], files_metadata=True)
        emit({"tree": sorted([e.path, type(e).__name__] for e in tree), "files": sorted(files),
              "siblings": sorted([s.rfilename, s.size] for s in info.siblings)})
    """,
        {"repo_id": LARGE_DATASET_ID},
    )
    assert result["files"] == sorted(files)
    expected = [[p, "RepoFile"] for p in files] + [[d, "RepoFolder"] for d in dirs]
    assert result["tree"] == sorted(expected)
    assert result["siblings"] == sorted([p, f["size"]] for p, f in files.items())
    # Each listing came in pages of 1,000 entries, following the Link headers.
    listings = [r for r in hub.stats()["requests"] if r["action"] == "tree"]
    pages = -(-len(expected) // 1000)
    assert len(listings) == 2 * pages  # list_repo_tree, then list_repo_files
    assert sum("cursor=" in r["query"] for r in listings) == 2 * (pages - 1)


def test_tree_pages_hold_1000_entries_and_50_with_expand(hub):
    files = hub.repo(LARGE_DATASET_ID)["files"]["A"]
    url = f"/api/datasets/{LARGE_DATASET_ID}/tree/main?recursive=true"
    sizes, seen = [], []
    while url:
        status, headers, body = raw(hub, "GET", url)
        assert status == 200
        page = json.loads(body)
        sizes.append(len(page))
        seen += [e["path"] for e in page]
        link = headers.get("Link")
        url = None
        if link:
            assert link.startswith(f"<{hub.url}/api/datasets/{LARGE_DATASET_ID}/tree/main?")
            url = link[1 : link.index(">")].removeprefix(hub.url)
    assert len(sizes) > 5 and sizes[:-1] == [1000] * (len(sizes) - 1) and 0 < sizes[-1] <= 1000
    assert len(seen) == len(set(seen)) and set(files) <= set(seen)

    folder = f"/api/datasets/{LARGE_DATASET_ID}/tree/main/data/train/00"
    status, headers, body = raw(hub, "GET", f"{folder}?expand=true")
    page = json.loads(body)
    assert len(page) == 50 and 'rel="next"' in headers["Link"]
    assert {e["lastCommit"]["id"] for e in page} == {hub.commit_sha(LARGE_DATASET_ID, "A")}
    assert len(json.loads(raw(hub, "GET", folder)[2])) == 100  # the whole folder: one page
    # A smaller page size applies to both.
    hub.configure(page_size=30)
    assert len(json.loads(raw(hub, "GET", f"{folder}?expand=true")[2])) == 30
    assert len(json.loads(raw(hub, "GET", folder)[2])) == 30


def test_snapshot_download_of_the_sharded_model(hub, client):
    """120 Xet-backed shards over the bridge, the index through resolve-cache."""
    repo = hub.repo(SHARDED_MODEL_ID)
    sha, files = repo["commits"]["A"], repo["files"]["A"]
    shards = sorted(p for p in files if p.startswith("model-"))
    assert len(shards) == 120 and all(files[p]["xet"] and files[p]["lfs"] for p in shards)
    snapshot = Path(
        client(
            """
            from huggingface_hub import snapshot_download
            emit(snapshot_download(ARGS["repo_id"], allow_patterns=["*.json", "*.safetensors"]))
        """,
            {"repo_id": SHARDED_MODEL_ID},
        )
    )
    assert snapshot == cache_folder(client, "model", SHARDED_MODEL_ID) / "snapshots" / sha
    wanted = {p for p in files if p.endswith((".json", ".safetensors"))}
    assert {p.name for p in snapshot.iterdir()} == wanted
    for path in wanted:
        blob = Path(os.path.realpath(snapshot / path))
        assert blob.name == files[path]["etag"]
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == files[path]["sha256"]

    # The index names every tensor of every shard, and each shard is valid safetensors.
    index = json.loads((snapshot / "model.safetensors.index.json").read_text())
    by_shard = {}
    for name, shard in index["weight_map"].items():
        by_shard.setdefault(shard, set()).add(name)
    assert sorted(by_shard) == shards
    for shard in shards:
        data = (snapshot / shard).read_bytes()
        length = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + length])
        assert set(header) - {"__metadata__"} == by_shard[shard]
        assert max(t["data_offsets"][1] for k, t in header.items() if k != "__metadata__") == (
            len(data) - 8 - length
        )

    stats = hub.stats()
    bridge = [r for r in stats["cdn_requests"] if r["origin"] == "bridge"]
    assert sorted(r["file"] for r in bridge) == sorted(files[p]["sha256"] for p in shards)
    assert all(r["status"] == 200 and r["authorization"] is None for r in bridge)
    assert stats["by_kind"].get("xet", 0) == 0
    cached = {r["file"] for r in stats["requests"] if r["action"] == "resolve-cache"}
    assert cached == {p for p in wanted if not files[p]["lfs"]}


def test_bridge_serves_https_when_the_hub_does():
    """With tls=True the bridge is a third HTTPS origin, under the same CA."""
    pytest.importorskip("cryptography")
    with FakeHub(tls=True) as hub:
        assert hub.bridge_url.startswith("https://") and hub.bridge_url != hub.cdn_url
        context = hub.ssl_context()
        hub_url = urllib.parse.urlsplit(hub.url)
        conn = http.client.HTTPSConnection(hub_url.hostname, hub_url.port, context=context)
        conn.request("HEAD", f"/{MODEL_ID}/resolve/main/xet/weights.bin")
        location = conn.getresponse().headers["Location"]
        conn.close()
        assert location.startswith(f"{hub.bridge_url}/xet-bridge-us/")
        opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=context)
        )
        with opener.open(location, timeout=30) as response:
            assert response.read() == hub.file_bytes(MODEL_ID, "xet/weights.bin")
        assert [(r["origin"], r["status"]) for r in hub.stats()["cdn_requests"]] == [
            ("bridge", 200)
        ]
