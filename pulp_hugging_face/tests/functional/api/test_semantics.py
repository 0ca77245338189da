"""Cache semantics: HEAD from metadata, Xet never reaches the client, ranges, revisions, errors."""

import concurrent.futures
import time

import pytest
import requests

from pulp_hugging_face.tests.functional.fake_hub import (
    DATASET_ID,
    GATED_ID,
    MODEL_ID,
    PRIVATE_ID,
)


def resolve_url(endpoint, filename, revision="main", repo=MODEL_ID):
    return f"{endpoint}/{repo}/resolve/{revision}/{filename}"


def test_head_is_answered_from_metadata_without_body(hf_cache_factory, hub_reset):
    cache = hf_cache_factory()
    facts = hub_reset.repo(MODEL_ID)["files"]["A"]["big.bin"]

    response = requests.head(resolve_url(cache.endpoint, "big.bin"), allow_redirects=False)

    assert response.status_code == 200
    assert response.headers["X-Repo-Commit"] == hub_reset.commit_sha(MODEL_ID, "main")
    assert response.headers["ETag"] == f'"{facts["sha256"]}"'
    assert response.headers["X-Linked-Etag"] == f'"{facts["sha256"]}"'
    assert response.headers["X-Linked-Size"] == str(facts["size"])
    assert response.headers["Content-Length"] == str(facts["size"])
    assert response.headers["Accept-Ranges"] == "bytes"
    stats = hub_reset.stats()
    assert [(r["method"], r["kind"]) for r in stats["requests"]] == [("HEAD", "resolve")]

    hub_reset.reset()
    for _ in range(3):
        assert requests.head(resolve_url(cache.endpoint, "big.bin")).status_code == 200
    assert hub_reset.count() == 0


def test_regular_file_head_has_git_etag(hf_cache_factory, hub_reset):
    cache = hf_cache_factory()
    facts = hub_reset.repo(MODEL_ID)["files"]["A"]["config.json"]
    response = requests.head(resolve_url(cache.endpoint, "config.json"))
    assert response.headers["ETag"] == f'"{facts["git_sha1"]}"'
    assert response.headers["X-Linked-Size"] == str(facts["size"])
    assert "X-Linked-Etag" not in response.headers


@pytest.mark.parametrize("filename", ["config.json", "big.bin"])
def test_head_and_get_agree_cold_and_warm(hf_cache_factory, hub_reset, filename):
    cache = hf_cache_factory()
    facts = hub_reset.repo(MODEL_ID)["files"]["A"][filename]
    lfs = facts["lfs"]
    etag = f'"{facts["sha256"] if lfs else facts["git_sha1"]}"'
    url = resolve_url(cache.endpoint, filename)

    answers = {
        "cold GET": requests.get(url),
        "warm HEAD": requests.head(url),
        "warm GET": requests.get(url),
        "warm GET again": requests.get(url),
    }
    fresh = hf_cache_factory()  # HEAD first on a new remote, then the GET that fetches
    answers["HEAD on a new remote"] = requests.head(resolve_url(fresh.endpoint, filename))
    answers["cold GET after HEAD"] = requests.get(resolve_url(fresh.endpoint, filename))
    data = hub_reset.file_bytes(MODEL_ID, filename)
    for name, response in answers.items():
        assert response.status_code == 200, name
        assert response.content == (b"" if response.request.method == "HEAD" else data), name
        # Pulp's own answer: with object storage a stored file's GET is a redirect to the
        # store (which answers with its own ETag), and the hub's headers are on the redirect.
        response = response.history[0] if response.history else response
        assert response.headers["ETag"] == etag, name
        assert response.headers.get("X-Linked-Etag") == (etag if lfs else None), name
        assert response.headers["X-Linked-Size"] == str(facts["size"]), name
        assert response.headers["X-Repo-Commit"] == hub_reset.commit_sha(MODEL_ID, "main"), name


def test_a_warm_small_file_from_memory_is_answered_as_pulpcore_answers_it_from_disk(
    hf_cache_factory, hub_reset, hugging_face_bindings
):
    # A plain GET of a small stored file is answered from the content process's memory; a
    # conditional one (an If-None-Match that does not match) still by pulpcore's FileResponse.
    cache = hf_cache_factory()
    url = resolve_url(cache.endpoint, "config.json")
    data = hub_reset.file_bytes(MODEL_ID, "config.json")
    assert requests.get(url).content == data  # cold: stored
    commit = hub_reset.commit_sha(MODEL_ID, "main")
    deadline = time.monotonic() + 60
    while not hugging_face_bindings.ContentHuggingFaceApi.list(
        commit=commit, path="config.json"
    ).count:
        assert time.monotonic() < deadline, "the cold request did not store the file"
        time.sleep(0.2)
    hub_reset.reset()

    answers = [requests.get(url) for _ in range(3)]  # the first reads it, the others remember
    from_disk = requests.get(url, headers={"If-None-Match": '"another-etag"'})

    expected = {k: v for k, v in from_disk.headers.items() if k != "Date"}
    assert from_disk.status_code == 200 and from_disk.content == data
    for answer in answers:
        assert answer.status_code == 200
        assert answer.content == data
        assert {k: v for k, v in answer.headers.items() if k != "Date"} == expected
    assert hub_reset.count() == 0


XET_DOWNLOAD = """
import hashlib, importlib.util
from huggingface_hub import hf_hub_download
assert importlib.util.find_spec("hf_xet") is not None, "hf_xet must be installed for this test"
path = hf_hub_download({repo!r}, "xet/weights.bin")
result = hashlib.sha256(open(path, "rb").read()).hexdigest()
"""


def test_xet_files_come_through_the_cache(hf_cache_factory, hub_reset, hf_client):
    cache = hf_cache_factory()
    facts = hub_reset.repo(MODEL_ID)["files"]["A"]["xet/weights.bin"]
    assert facts["xet"]

    head = requests.head(resolve_url(cache.endpoint, "xet/weights.bin"))
    for name in head.headers:
        assert not name.lower().startswith("x-xet-"), name
    assert "xet" not in head.headers.get("Link", "")

    assert hf_client(XET_DOWNLOAD.format(repo=MODEL_ID), cache.endpoint) == facts["sha256"]
    assert hub_reset.count("xet") == 0
    tree = requests.get(f"{cache.endpoint}/api/models/{MODEL_ID}/tree/main/xet").json()
    assert tree and all("xetHash" not in entry for entry in tree)


def test_range_requests_on_cold_and_warm_files(hf_cache_factory, hub_reset, hugging_face_bindings):
    cache = hf_cache_factory()
    data = hub_reset.file_bytes(MODEL_ID, "big.bin")
    url = resolve_url(cache.endpoint, "big.bin")

    cold = requests.get(url, headers={"Range": "bytes=100-199"})
    assert cold.status_code == 206
    assert cold.content == data[100:200]
    # The client has its range; the whole file is still being fetched and stored.
    commit = hub_reset.commit_sha(MODEL_ID, "main")
    deadline = time.monotonic() + 60
    while not hugging_face_bindings.ContentHuggingFaceApi.list(commit=commit, path="big.bin").count:
        assert time.monotonic() < deadline, "the cold range request did not store the file"
        time.sleep(0.2)

    hub_reset.reset()
    warm = requests.get(url, headers={"Range": "bytes=1000000-"})
    assert warm.status_code == 206
    assert warm.content == data[1000000:]
    assert warm.headers["Content-Range"] == f"bytes 1000000-{len(data) - 1}/{len(data)}"
    assert requests.get(url).content == data
    assert hub_reset.count() == 0


def test_branch_is_rechecked_after_ttl(hf_cache_factory, hub_reset, hf_client):
    hub_reset.reset(everything=True)
    cache = hf_cache_factory(metadata_ttl=3)
    commit_a = hub_reset.commit_sha(MODEL_ID, "A")
    commit_b = hub_reset.commit_sha(MODEL_ID, "B")
    url = resolve_url(cache.endpoint, "config.json")
    try:
        assert requests.head(url).headers["X-Repo-Commit"] == commit_a
        hub_reset.move_branch(MODEL_ID, "B")
        hub_reset.reset()
        # Within the TTL: the known commit, and the hub is not asked.
        assert requests.head(url).headers["X-Repo-Commit"] == commit_a
        assert requests.get(url).content == hub_reset.file_bytes(MODEL_ID, "config.json", commit_a)
        # The body, fetched at the commit: the hub's relative 307, then its resolve-cache answer.
        actions = [(r["action"], r["revision"]) for r in hub_reset.stats()["requests"]]
        assert actions == [("resolve", commit_a), ("resolve-cache", commit_a)]
        time.sleep(3.5)
        response = requests.get(url)
        assert response.headers["X-Repo-Commit"] == commit_b
        assert response.content == hub_reset.file_bytes(MODEL_ID, "config.json", commit_b)
        info = requests.get(f"{cache.endpoint}/api/models/{MODEL_ID}/revision/main").json()
        assert info["sha"] == commit_b
    finally:
        hub_reset.reset(everything=True)


def test_upstream_down_serves_cache_and_fails_fast_otherwise(
    hf_cache_factory, fake_hub, hub_reset, hf_client
):
    cache = hf_cache_factory(metadata_ttl=1)
    commit = fake_hub.commit_sha(MODEL_ID, "main")
    snapshot = f"""
from huggingface_hub import snapshot_download
result = snapshot_download({MODEL_ID!r}, allow_patterns=["*.json", "*.txt"])
"""
    hf_client(snapshot, cache.endpoint)
    cached = requests.get(resolve_url(cache.endpoint, "config.json")).content
    time.sleep(1.5)  # past the TTL: a branch must be re-checked, and upstream will be down

    fake_hub.stop()
    try:
        response = requests.get(resolve_url(cache.endpoint, "config.json"), timeout=30)
        assert response.status_code == 200
        assert response.content == cached
        assert response.headers["X-Repo-Commit"] == commit
        assert response.headers["X-Pulp-Cache"] == "stale"
        head = requests.head(resolve_url(cache.endpoint, "config.json"), timeout=30)
        assert head.status_code == 200 and head.headers["X-Pulp-Cache"] == "stale"
        info = requests.get(f"{cache.endpoint}/api/models/{MODEL_ID}/revision/main", timeout=30)
        assert info.status_code == 200 and info.json()["sha"] == commit

        started = time.monotonic()
        missing = requests.get(resolve_url(cache.endpoint, "big.bin"), timeout=30)
        assert time.monotonic() - started < 10
        assert missing.status_code in (502, 503, 504)
        assert missing.headers["X-Error-Code"] == "UpstreamUnavailable"
        assert missing.json()["error"]

        # The client in a fresh HF_HOME gets the whole cached snapshot while the hub is down.
        assert hf_client(snapshot, cache.endpoint).endswith(commit)
    finally:
        fake_hub.start()
    assert requests.get(resolve_url(cache.endpoint, "big.bin")).status_code == 200


ERRORS = """
from huggingface_hub import hf_hub_download, errors
outcome = {{}}
for name, kwargs in {cases!r}.items():
    try:
        hf_hub_download(**kwargs)
        outcome[name] = "ok"
    except Exception as exc:
        outcome[name] = type(exc).__name__
result = outcome
"""


def test_hub_errors_reach_the_client_typed(hf_cache_factory, hub_reset, hf_client):
    cache = hf_cache_factory()
    cases = {
        "missing_file": {"repo_id": MODEL_ID, "filename": "nope.json"},
        "bad_revision": {"repo_id": MODEL_ID, "filename": "config.json", "revision": "nobranch"},
        "unknown_repo": {"repo_id": "fake-org/does-not-exist", "filename": "config.json"},
        "gated": {"repo_id": GATED_ID, "filename": "config.json"},
        "private": {"repo_id": PRIVATE_ID, "filename": "config.json"},
        "wrong_type": {"repo_id": DATASET_ID, "filename": "README.md", "repo_type": "model"},
    }
    result = hf_client(ERRORS.format(cases=cases), cache.endpoint)
    assert result == {
        "missing_file": "RemoteEntryNotFoundError",
        "bad_revision": "RevisionNotFoundError",
        "unknown_repo": "RepositoryNotFoundError",
        "gated": "GatedRepoError",
        "private": "RepositoryNotFoundError",
        "wrong_type": "RepositoryNotFoundError",
    }

    missing = requests.head(resolve_url(cache.endpoint, "nope.json"))
    assert missing.status_code == 404
    assert missing.headers["X-Error-Code"] == "EntryNotFound"
    assert missing.headers["X-Repo-Commit"] == hub_reset.commit_sha(MODEL_ID, "main")


def test_private_repo_with_remote_token(hf_cache_factory, hub_reset, hf_client):
    cache = hf_cache_factory(hf_token=hub_reset.token)
    code = f"""
import hashlib
from huggingface_hub import hf_hub_download
result = hashlib.sha256(open(hf_hub_download({PRIVATE_ID!r}, "weights.bin"), "rb").read()).hexdigest()
"""
    facts = hub_reset.repo(PRIVATE_ID)["files"]["A"]["weights.bin"]
    assert hf_client(code, cache.endpoint) == facts["sha256"]
    gated = requests.get(f"{cache.endpoint}/{GATED_ID}/resolve/main/config.json")
    assert gated.status_code == 200
    assert gated.content == hub_reset.file_bytes(GATED_ID, "config.json")
    stats = hub_reset.stats()
    cdn = [r for r in stats["requests"] if r["kind"] == "cdn"]
    assert cdn and all(r["authorization"] is None for r in cdn)
    hub_side = [r for r in stats["requests"] if r["kind"] != "cdn"]
    assert hub_side and all(r["authorization"] == f"Bearer {hub_reset.token}" for r in hub_side)


def test_pulled_files_become_content_in_repository_versions(
    hf_cache_factory,
    hf_repository_factory,
    hugging_face_bindings,
    hub_reset,
    monitor_task,
    pulpcore_bindings,
):
    repository = hf_repository_factory()
    cache = hf_cache_factory(repository=repository.pulp_href)
    commit = hub_reset.commit_sha(MODEL_ID, "main")
    for name in ("config.json", "big.bin"):
        assert requests.get(resolve_url(cache.endpoint, name)).status_code == 200

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        tasks = pulpcore_bindings.TasksApi.list(reserved_resources=repository.prn)
        if all(t.state in ("completed", "failed", "canceled") for t in tasks.results) and (
            hugging_face_bindings.RepositoriesHuggingFaceApi.read(
                repository.pulp_href
            ).latest_version_href.endswith("/versions/2/")
        ):
            break
        time.sleep(0.5)
    latest = hugging_face_bindings.RepositoriesHuggingFaceApi.read(repository.pulp_href)
    assert latest.latest_version_href.endswith("/versions/2/")
    content = hugging_face_bindings.ContentHuggingFaceApi.list(
        repository_version=latest.latest_version_href
    )
    units = sorted((c.repo_type, c.repo_id, c.commit, c.path) for c in content.results)
    assert units == [
        ("model", MODEL_ID, commit, "big.bin"),
        ("model", MODEL_ID, commit, "config.json"),
    ]
    big = next(c for c in content.results if c.path == "big.bin")
    assert big.sha256 == hub_reset.repo(MODEL_ID)["files"]["A"]["big.bin"]["sha256"]
    assert big.relative_path == f"{MODEL_ID}/resolve/{commit}/big.bin"


@pytest.mark.parametrize(
    "path",
    [
        f"{MODEL_ID}/resolve/main/../../etc/passwd",
        f"{MODEL_ID}/resolve/main/a/%2e%2e/%2e%2e/b",
        f"{MODEL_ID}/resolve/main/%2e%2e%2fsecret",
        f"{MODEL_ID}/resolve/ma..in/config.json",
        f"{MODEL_ID}/resolve/refs%2Fheads%2F..%2Fx/config.json",
        f"{MODEL_ID}/resolve/-main/config.json",
        f"{MODEL_ID}/resolve/main/a%00b",
        f"{MODEL_ID}/resolve/main/" + "a" * 2000,
        f"{MODEL_ID}/resolve/" + "b" * 300 + "/config.json",
        "sentence-transformers%2Fall-MiniLM-L6-v2/resolve/main/config.json",
        "org/na--me/resolve/main/config.json",
        "org/.hidden/resolve/main/config.json",
        "a/b/c/resolve/main/config.json",
        f"api/models/{MODEL_ID}/tree/main/..%2F..",
        f"api/models/{MODEL_ID}/revision/%2e%2e",
        f"api/models/{MODEL_ID}/tree/" + "%ff" * 3,
        "api/models/" + "x" * 200 + "/y",
    ],
)
def test_hostile_paths_get_4xx_and_never_reach_upstream(hf_cache_factory, hub_reset, path):
    cache = hf_cache_factory()
    hub_reset.reset()
    for method in ("GET", "HEAD"):
        response = requests.request(method, f"{cache.endpoint}/{path}")
        assert 400 <= response.status_code < 500, (method, response.status_code)
        if response.status_code == 400:
            assert response.headers["X-Error-Code"] == "BadRequest"
    assert hub_reset.count() == 0, hub_reset.stats()["requests"]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Big": "x" * 70_000},
        {"Authorization": "Bearer " + "t" * 70_000},
        {f"X-Many-{i}": "v" for i in range(300)},
    ],
    ids=["huge-header", "huge-token", "many-headers"],
)
def test_oversized_headers_get_4xx_and_never_reach_upstream(hf_cache_factory, hub_reset, headers):
    cache = hf_cache_factory()
    hub_reset.reset()
    response = requests.get(resolve_url(cache.endpoint, "config.json"), headers=headers)
    assert 400 <= response.status_code < 500
    assert hub_reset.count() == 0


def test_pr_ref_encoded_or_not(hf_cache_factory, hub_reset):
    cache = hf_cache_factory()
    commit = hub_reset.commit_sha(MODEL_ID, "refs/pr/1")
    for revision in ("refs%2Fpr%2F1", "refs/pr/1"):
        response = requests.get(resolve_url(cache.endpoint, "pr-only.txt", revision))
        assert response.status_code == 200, revision
        assert response.headers["X-Repo-Commit"] == commit
        assert response.content == hub_reset.file_bytes(MODEL_ID, "pr-only.txt", commit)


def test_concurrent_cold_metadata_requests_share_upstream_requests(
    hf_cache_factory, hub_reset, pulpcore_bindings
):
    """A fleet of CI jobs asking for the same model at once costs one upstream request each."""
    cache = hf_cache_factory()
    hub_reset.configure(latency=1)  # all requests arrive while the first is still upstream
    urls = [resolve_url(cache.endpoint, "config.json")] * 10 + [
        f"{cache.endpoint}/api/models/{MODEL_ID}/revision/main"
    ] * 10
    methods = ["HEAD"] * 10 + ["GET"] * 10
    with concurrent.futures.ThreadPoolExecutor(len(urls)) as pool:
        responses = list(pool.map(lambda args: requests.request(*args), zip(methods, urls)))
    hub_reset.configure(latency=0)
    assert [r.status_code for r in responses] == [200] * len(urls)
    commit = hub_reset.commit_sha(MODEL_ID, "main")
    assert {r.headers["X-Repo-Commit"] for r in responses[:10]} == {commit}
    # One upstream request per fact, whichever content-app process each request reached.
    content_apps = len(pulpcore_bindings.StatusApi.status_read().online_content_apps)
    assert content_apps >= 2  # the test Pulp runs two content processes
    seen = hub_reset.stats()["requests"]
    assert len([r for r in seen if (r["method"], r["action"]) == ("HEAD", "resolve")]) == 1
    assert len([r for r in seen if r["kind"] == "api"]) == 1
