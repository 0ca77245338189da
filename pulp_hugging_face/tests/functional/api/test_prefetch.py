"""Prefetch into repository versions, and distributions that serve a version (issue 11).

1. prefetch as a task (progress, idempotence); 2. one repository version per prefetch with the
revision -> commit mapping; 3. a distribution serving a version without a remote (frozen,
promotion by moving the distribution; with a remote too: the version first); 5. offline proof.
"""

import time
import uuid

import pytest
import requests

from pulp_hugging_face.tests.functional.api.test_snapshot_and_api import tree_digest
from pulp_hugging_face.tests.functional.fake_hub import DATASET_ID, MODEL_ID

JSON_FILES = ["*.json"]


@pytest.fixture
def api_session(bindings_cfg):
    session = requests.Session()
    session.auth = (bindings_cfg.username, bindings_cfg.password)
    return session


@pytest.fixture
def prefetch(api_session, bindings_cfg, monitor_task):
    """`prefetch(repository, repos, remote=None)` -> the finished task (a SimpleNamespace)."""

    def _prefetch(repository, repos, remote=None):
        body = {"repos": repos}
        if remote:
            body["remote"] = remote
        url = f"{bindings_cfg.host}{repository.pulp_href}sync/"
        response = api_session.post(url, json=body)
        assert response.status_code == 202, response.text
        return monitor_task(response.json()["task"])

    return _prefetch


@pytest.fixture
def version_content(api_session, bindings_cfg):
    """`version_content(version_href, kind)`: the units of one content type in a version."""

    def _content(version_href, kind="hugging_face"):
        url = f"{bindings_cfg.host}/pulp/api/v3/content/hugging_face/{kind}/"
        params = {"repository_version": version_href, "limit": 1000}
        response = api_session.get(url, params=params)
        response.raise_for_status()
        return response.json()["results"]

    return _content


@pytest.fixture
def frozen_endpoint(gen_object_with_cleanup, hugging_face_bindings):
    """`frozen_endpoint(repository=href | repository_version=href)`: a distribution without a
    remote, serving that repository's latest version or that version."""

    def _endpoint(**where):
        body = {"name": str(uuid.uuid4()), "base_path": str(uuid.uuid4()), **where}
        api = hugging_face_bindings.DistributionsHuggingFaceApi
        distribution = gen_object_with_cleanup(api, body)
        assert distribution.remote is None
        return distribution.base_url.rstrip("/"), distribution

    return _endpoint


def progress(task, code):
    return next(r for r in task.progress_reports if r.code == code)


def test_prefetch_creates_one_version_with_the_selected_files_and_metadata(
    hf_remote_factory, hf_repository_factory, prefetch, version_content, hub_reset
):
    remote = hf_remote_factory()
    repository = hf_repository_factory(remote=remote.pulp_href)
    commit = hub_reset.commit_sha(MODEL_ID, "main")
    files = hub_reset.repo(MODEL_ID)["files"]["A"]
    expected = sorted(p for p in files if p.endswith(".json"))

    task = prefetch(repository, [{"repo_id": MODEL_ID, "allow_patterns": JSON_FILES}])

    (version_href,) = task.created_resources
    assert version_href.endswith("/versions/1/")
    units = version_content(version_href)
    assert sorted(u["path"] for u in units) == expected
    assert {(u["repo_id"], u["commit"]) for u in units} == {(MODEL_ID, commit)}
    assert {u["path"]: u["sha256"] for u in units} == {p: files[p]["sha256"] for p in expected}
    revisions = version_content(version_href, "revisions")
    assert sorted((r["revision"], r["commit"]) for r in revisions) == [
        ("", commit),
        ("main", commit),
    ]
    metadata = version_content(version_href, "metadata")
    assert {m["endpoint"] for m in metadata} == {"info", "tree", "file"}
    not_found = sorted(m["path"] for m in metadata if m["endpoint"] == "file")
    assert "added_tokens.json" in not_found and "chat_template.jinja" in not_found
    assert all(m["status"] == 404 for m in metadata if m["endpoint"] == "file")

    size = sum(files[p]["size"] for p in expected)
    assert (
        progress(task, "sync.downloading.files").total,
        progress(task, "sync.downloading.files").done,
    ) == (len(expected), len(expected))
    assert progress(task, "sync.downloading.bytes").total == size
    assert progress(task, "sync.downloading.bytes").done == size
    assert progress(task, "sync.skipped.files").done == 0
    assert hub_reset.count("xet") == 0


def test_prefetch_again_downloads_nothing_and_makes_no_new_version(
    hf_remote_factory, hf_repository_factory, prefetch, hub_reset, hugging_face_bindings
):
    remote = hf_remote_factory()
    repository = hf_repository_factory(remote=remote.pulp_href)
    spec = [{"repo_id": MODEL_ID, "revision": "main", "allow_patterns": ["*.json", "*.txt"]}]
    first = prefetch(repository, spec)
    downloads = hub_reset.count("cdn") + len(
        [r for r in hub_reset.stats()["requests"] if r["action"] == "resolve"]
    )
    assert downloads > 0
    hub_reset.reset()

    second = prefetch(repository, spec)

    bodies = [r for r in hub_reset.stats()["requests"] if r["kind"] in ("resolve", "cdn")]
    assert bodies == []
    assert second.created_resources == []  # the same content: no new version
    latest = hugging_face_bindings.RepositoriesHuggingFaceApi.read(repository.pulp_href)
    assert latest.latest_version_href == first.created_resources[0]
    files = progress(second, "sync.downloading.files")
    assert progress(second, "sync.skipped.files").done == files.total == files.done > 0


def test_prefetch_shares_the_download_of_a_file_a_client_is_fetching(
    hf_remote_factory, hf_repository_factory, hf_distribution_factory, prefetch, hub_reset
):
    """A client pulling a cold file and a prefetch of it at once: one upstream download."""
    import threading

    remote = hf_remote_factory()
    repository = hf_repository_factory(remote=remote.pulp_href)
    distribution = hf_distribution_factory(remote=remote.pulp_href)
    commit = hub_reset.commit_sha(MODEL_ID, "main")
    size = hub_reset.repo(MODEL_ID)["files"]["A"]["model.safetensors"]["size"]
    hub_reset.configure(body_rate=size // 3)  # about 3 s: the prefetch starts meanwhile
    url = f"{distribution.base_url.rstrip('/')}/{MODEL_ID}/resolve/{commit}/model.safetensors"
    got = {}
    client = threading.Thread(target=lambda: got.update(body=requests.get(url).content))
    client.start()
    time.sleep(0.5)
    prefetch(repository, [{"repo_id": MODEL_ID, "allow_patterns": ["model.safetensors"]}])
    client.join()
    hub_reset.configure(body_rate=None)

    assert len(got["body"]) == size
    cdn = [r for r in hub_reset.stats()["cdn_requests"] if r["status"] in (200, 206)]
    assert len(cdn) == 1, cdn


def test_prefetch_rejects_bad_input_without_upstream_calls(
    hf_remote_factory, hf_repository_factory, api_session, bindings_cfg, hub_reset
):
    repository = hf_repository_factory()  # and no remote
    url = f"{bindings_cfg.host}{repository.pulp_href}sync/"
    no_remote = api_session.post(url, json={"repos": [{"repo_id": MODEL_ID}]})
    assert no_remote.status_code == 400 and "remote" in no_remote.json()
    remote = hf_remote_factory().pulp_href
    for repos in ([{"repo_id": "../etc"}], [{"repo_id": MODEL_ID, "revision": "a b"}], []):
        answer = api_session.post(url, json={"remote": remote, "repos": repos})
        assert answer.status_code == 400, answer.text
    assert hub_reset.count() == 0


def test_prefetch_skips_files_the_remote_refuses_and_reports_them(
    hf_remote_factory, hf_repository_factory, prefetch, version_content, hub_reset
):
    remote = hf_remote_factory(deny_files=["config*.json"])
    repository = hf_repository_factory(remote=remote.pulp_href)
    files = hub_reset.repo(MODEL_ID)["files"]["A"]
    chosen = [p for p in files if p.endswith(".json")]
    refused = sorted(p for p in chosen if p.startswith("config"))  # patterns match whole paths
    assert refused and len(refused) < len(chosen)

    task = prefetch(repository, [{"repo_id": MODEL_ID, "allow_patterns": JSON_FILES}])

    (version_href,) = task.created_resources
    stored = sorted(u["path"] for u in version_content(version_href))
    assert stored == sorted(set(chosen) - set(refused))
    denied = progress(task, "sync.denied.files")
    assert (denied.total, denied.done) == (len(refused), len(refused))
    assert progress(task, "sync.downloading.files").total == len(stored)
    asked = {r.get("file") for r in hub_reset.stats()["requests"] if r["kind"] == "resolve"}
    assert not asked & set(refused), asked


def test_prefetch_of_a_repo_the_remote_refuses_is_a_400_naming_the_rule(
    hf_remote_factory, hf_repository_factory, api_session, bindings_cfg, hub_reset
):
    remote = hf_remote_factory(deny_repos=["sentence-transformers/*"])
    repository = hf_repository_factory(remote=remote.pulp_href)
    url = f"{bindings_cfg.host}{repository.pulp_href}sync/"

    answer = api_session.post(url, json={"repos": [{"repo_id": MODEL_ID}]})

    assert answer.status_code == 400, answer.text
    assert "deny_repos 'sentence-transformers/*'" in answer.json()["repos"][0]
    assert hub_reset.count() == 0


OFFLINE_CLIENT = """
import hashlib, json, os
from huggingface_hub import HfApi, HfFileSystem, hf_hub_download, snapshot_download
revision = {revision!r}
path = snapshot_download({model!r}, revision=revision)
one = hf_hub_download({model!r}, "docs/read me.txt", revision=revision)
api = HfApi()
info = api.model_info({model!r}, revision=revision)
tree = sorted(e.path for e in api.list_repo_tree({model!r}, revision=revision, recursive=True))
fs = HfFileSystem()
root = {model!r} if revision == "main" else {model!r} + "@" + revision
listing = sorted(e["name"].split("/", 2)[2] for e in fs.ls(root + "/1_Pooling", detail=True))
weights = fs.info(root + "/model.safetensors")
with fs.open(root + "/model.safetensors", "rb", block_size=64 * 1024) as f:
    f.seek(1000)
    window = hashlib.sha256(f.read(4096)).hexdigest()
result = {{
    "snapshot": os.path.basename(path),
    "one": open(one, "rb").read().decode(),
    "sha": info.sha,
    "siblings": sorted(s.rfilename for s in info.siblings),
    "tree": tree,
    "ls": listing,
    "size": weights["size"],
    "window": window,
}}
"""


class TestOfflineAfterPrefetch:
    """5. After a prefetch and with the hub stopped, fresh clients get everything, by branch
    and by commit, byte-identical to direct downloads."""

    @pytest.fixture(scope="class")
    def served(
        self,
        fake_hub,
        hf_remote_factory,
        hf_repository_factory,
        gen_object_with_cleanup,
        hugging_face_bindings,
        bindings_cfg,
        monitor_task,
        tmp_path_factory,
    ):
        from pulp_hugging_face.pytest_plugin import run_hf_client

        fake_hub.reset(everything=True)
        remote = hf_remote_factory()
        repository = hf_repository_factory(remote=remote.pulp_href)
        session = requests.Session()
        session.auth = (bindings_cfg.username, bindings_cfg.password)
        started = time.monotonic()
        response = session.post(
            f"{bindings_cfg.host}{repository.pulp_href}sync/",
            json={
                "repos": [{"repo_id": MODEL_ID}, {"repo_type": "dataset", "repo_id": DATASET_ID}]
            },
        )
        assert response.status_code == 202, response.text
        task = monitor_task(response.json()["task"])
        elapsed = time.monotonic() - started
        files = progress(task, "sync.downloading.files")
        size = progress(task, "sync.downloading.bytes").total
        print(
            f"MEASURED prefetch of {files.total} files, {size / 1e6:.1f} MB in {elapsed:.1f} s: "
            f"{files.total / elapsed:.1f} files/s, {size / 1e6 / elapsed:.1f} MB/s"
        )
        distribution = gen_object_with_cleanup(
            hugging_face_bindings.DistributionsHuggingFaceApi,
            {
                "name": str(uuid.uuid4()),
                "base_path": str(uuid.uuid4()),
                "repository": repository.pulp_href,
            },
        )
        assert distribution.remote is None
        commit = fake_hub.commit_sha(MODEL_ID, "main")
        direct = {}
        for revision in ("main", commit):
            home = tmp_path_factory.mktemp("direct")
            code = OFFLINE_CLIENT.format(model=MODEL_ID, revision=revision)
            direct[revision] = (
                run_hf_client(code, fake_hub.url, home, env={"HF_HUB_DISABLE_XET": "1"}),
                home,
            )
        return distribution.base_url.rstrip("/"), direct, commit

    @pytest.fixture
    def hub_stopped(self, fake_hub):
        fake_hub.stop()
        yield fake_hub
        fake_hub.start()

    @pytest.mark.parametrize("by", ["branch", "commit"])
    def test_clients_get_everything_with_the_hub_stopped(self, served, hub_stopped, tmp_path, by):
        from pulp_hugging_face.pytest_plugin import run_hf_client

        endpoint, direct, commit = served
        revision = "main" if by == "branch" else commit
        expected, direct_home = direct[revision]
        home = tmp_path / "pulp"
        code = OFFLINE_CLIENT.format(model=MODEL_ID, revision=revision)
        result = run_hf_client(code, endpoint, home)
        assert result == expected
        assert result["snapshot"] == commit and result["size"] > 80_000_000
        assert tree_digest(home) == tree_digest(direct_home).replace(".json xet", ".json no-xet")


def test_frozen_version_answers_entry_not_found_for_what_it_lacks(
    hf_remote_factory, hf_repository_factory, prefetch, frozen_endpoint, hub_reset
):
    remote = hf_remote_factory()
    repository = hf_repository_factory(remote=remote.pulp_href)
    prefetch(repository, [{"repo_id": MODEL_ID, "allow_patterns": JSON_FILES}])
    endpoint, _ = frozen_endpoint(repository=repository.pulp_href)
    commit = hub_reset.commit_sha(MODEL_ID, "main")
    hub_reset.reset()

    config = requests.get(f"{endpoint}/{MODEL_ID}/resolve/main/config.json")
    assert config.status_code == 200 and config.headers["X-Repo-Commit"] == commit
    for path in ("big.bin", "added_tokens.json", "no/such/file"):
        for method in ("HEAD", "GET"):
            answer = requests.request(method, f"{endpoint}/{MODEL_ID}/resolve/main/{path}")
            assert answer.status_code == 404, (method, path)
            assert answer.headers["X-Error-Code"] == "EntryNotFound"
            assert answer.headers["X-Repo-Commit"] == commit
    other = requests.head(f"{endpoint}/{DATASET_ID}/resolve/main/README.md")
    assert other.status_code == 404 and other.headers["X-Error-Code"] == "RepoNotFound"
    revision = requests.head(f"{endpoint}/{MODEL_ID}/resolve/v1.0/config.json")
    assert revision.status_code == 404 and revision.headers["X-Error-Code"] == "RevisionNotFound"
    tree = requests.get(f"{endpoint}/api/models/{MODEL_ID}/tree/main", params={"recursive": "1"})
    assert sorted(e["path"] for e in tree.json() if e["type"] == "file") == sorted(
        p for p in hub_reset.repo(MODEL_ID)["files"]["A"] if p.endswith(".json")
    )
    paths_info = requests.post(
        f"{endpoint}/api/models/{MODEL_ID}/paths-info/{commit}",
        data={"paths": ["config.json", "big.bin", "1_Pooling"]},
    )
    assert paths_info.status_code == 200
    assert sorted((e["path"], e["type"]) for e in paths_info.json()) == [
        ("1_Pooling", "directory"),
        ("config.json", "file"),
    ]
    assert hub_reset.count() == 0, hub_reset.stats()["requests"]


def test_prefetch_of_a_missing_repo_fails_and_makes_no_version(
    hf_remote_factory,
    hf_repository_factory,
    api_session,
    bindings_cfg,
    hugging_face_bindings,
    pulpcore_bindings,
    hub_reset,
):
    repository = hf_repository_factory(remote=hf_remote_factory().pulp_href)
    url = f"{bindings_cfg.host}{repository.pulp_href}sync/"
    task_href = api_session.post(url, json={"repos": [{"repo_id": "fake-org/nope"}]}).json()["task"]
    deadline = time.monotonic() + 120
    while (task := pulpcore_bindings.TasksApi.read(task_href)).state not in ("completed", "failed"):
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert task.state == "failed"
    assert "RepoNotFound" in task.error["description"]
    latest = hugging_face_bindings.RepositoriesHuggingFaceApi.read(repository.pulp_href)
    assert latest.latest_version_href.endswith("/versions/0/")


def test_promote_a_version_by_moving_the_distribution(
    fake_hub,
    hf_remote_factory,
    hf_repository_factory,
    prefetch,
    frozen_endpoint,
    hugging_face_bindings,
):
    remote = hf_remote_factory()
    repository = hf_repository_factory(remote=remote.pulp_href)
    spec = [{"repo_id": MODEL_ID, "revision": "main", "allow_patterns": JSON_FILES}]
    try:
        fake_hub.reset(everything=True)
        first = prefetch(repository, spec)
        fake_hub.move_branch(MODEL_ID, "B")
        second = prefetch(repository, spec, remote=remote.pulp_href)
    finally:
        fake_hub.reset(everything=True)
    commit_a, commit_b = fake_hub.commit_sha(MODEL_ID, "A"), fake_hub.commit_sha(MODEL_ID, "B")
    dev_endpoint, _ = frozen_endpoint(repository=repository.pulp_href)
    prod_endpoint, prod = frozen_endpoint(repository_version=first.created_resources[0])

    def commit_of(endpoint):
        answer = requests.head(f"{endpoint}/{MODEL_ID}/resolve/main/config.json")
        assert answer.status_code == 200
        return answer.headers["X-Repo-Commit"]

    assert commit_of(dev_endpoint) == commit_b
    assert commit_of(prod_endpoint) == commit_a
    hugging_face_bindings.DistributionsHuggingFaceApi.partial_update(
        prod.pulp_href, {"repository_version": second.created_resources[0]}
    )
    assert commit_of(prod_endpoint) == commit_b
    info = requests.get(f"{prod_endpoint}/api/models/{MODEL_ID}/revision/main").json()
    assert info["sha"] == commit_b


def test_version_first_then_pull_through_with_a_remote(
    hf_remote_factory, hf_repository_factory, hf_distribution_factory, prefetch, hub_reset
):
    remote = hf_remote_factory()
    repository = hf_repository_factory(remote=remote.pulp_href)
    prefetch(repository, [{"repo_id": MODEL_ID, "allow_patterns": JSON_FILES}])
    distribution = hf_distribution_factory(remote=remote.pulp_href, repository=repository.pulp_href)
    endpoint = distribution.base_url.rstrip("/")
    hub_reset.reset()

    config = requests.get(f"{endpoint}/{MODEL_ID}/resolve/main/config.json")
    assert config.status_code == 200 and config.headers["X-Pulp-Cache"] == "version"
    assert hub_reset.count() == 0
    probe = requests.head(f"{endpoint}/{MODEL_ID}/resolve/main/added_tokens.json")
    assert probe.status_code == 404 and probe.headers["X-Error-Code"] == "EntryNotFound"
    assert hub_reset.count() == 0
    commit = hub_reset.commit_sha(MODEL_ID, "main")
    try:
        hub_reset.move_branch(MODEL_ID, "B")  # the version's main stays where it was
        vocab = requests.get(f"{endpoint}/{MODEL_ID}/resolve/main/vocab.txt")
        upstream_requests = hub_reset.count()
    finally:
        hub_reset.reset(everything=True)
    assert vocab.status_code == 200 and vocab.headers["X-Repo-Commit"] == commit
    assert vocab.content == hub_reset.file_bytes(MODEL_ID, "vocab.txt", revision=commit)
    assert upstream_requests > 0  # not in the version: pulled through
