"""Tokens never leak, client access control, caches never mix between distributions."""

import hashlib
import os
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from pulp_hugging_face.tests.functional.fake_hub import MIRRORED_ID, MODEL_ID, PRIVATE_ID
from pulp_hugging_face.tests.functional.fake_hub.repos import DIVERGED_FILES

CLIENT_DOWNLOAD = """
import hashlib
from huggingface_hub import hf_hub_download
outcome = {{}}
for repo, name in [({model!r}, "config.json")]:
    try:
        path = hf_hub_download(repo, name)
        outcome[name] = hashlib.sha256(open(path, "rb").read()).hexdigest()
    except Exception as exc:
        outcome[name] = type(exc).__name__ + ": " + str(exc)[:200]
result = outcome
"""


def test_token_guard_protects_a_distribution(
    hf_cache_factory, hf_token_guard_factory, hub_reset, hf_client
):
    client_token = f"hf_client_{uuid.uuid4().hex}"
    guard = hf_token_guard_factory([client_token])
    assert guard.token_count == 1 and not hasattr(guard, "tokens")
    assert client_token not in repr(vars(guard))
    cache = hf_cache_factory(content_guard=guard.pulp_href)
    url = f"{cache.endpoint}/{MODEL_ID}/resolve/main/config.json"

    anonymous = requests.get(url)
    assert anonymous.status_code == 401
    assert "HF_TOKEN" in anonymous.headers["X-Error-Message"]
    wrong = requests.get(url, headers={"Authorization": "Bearer hf_wrong_token_123"})
    assert wrong.status_code == 403
    api = requests.get(f"{cache.endpoint}/api/models/{MODEL_ID}")
    assert api.status_code == 401
    assert hub_reset.count() == 0  # refused before anything reached upstream

    expected = hub_reset.repo(MODEL_ID)["files"]["A"]["config.json"]["sha256"]
    code = CLIENT_DOWNLOAD.format(model=MODEL_ID)
    assert hf_client(code, cache.endpoint, env={"HF_TOKEN": client_token}) == {
        "config.json": expected
    }
    refused = hf_client(code, cache.endpoint)["config.json"]
    assert refused.startswith(("RepositoryNotFoundError", "LocalEntryNotFoundError", "HfHubHTTP"))

    # The client's token stays at the cache: upstream only ever saw the remote's (none here).
    assert all(r["authorization"] is None for r in hub_reset.stats()["requests"])


def test_private_files_do_not_leak_to_another_distribution(hf_cache_factory, hub_reset):
    private = hf_cache_factory(hf_token=hub_reset.token)
    public = hf_cache_factory()
    path = f"{PRIVATE_ID}/resolve/main/weights.bin"
    commit = hub_reset.commit_sha(PRIVATE_ID, "main")

    assert requests.get(f"{private.endpoint}/{path}").status_code == 200
    for url in (
        f"{public.endpoint}/{path}",
        f"{public.endpoint}/{PRIVATE_ID}/resolve/{commit}/weights.bin",
        f"{public.endpoint}/api/models/{PRIVATE_ID}",
        f"{public.endpoint}/api/models/{PRIVATE_ID}/tree/{commit}",
    ):
        for method in ("GET", "HEAD"):
            response = requests.request(method, url)
            assert response.status_code == 401, (method, url, response.status_code)
            assert response.headers["X-Error-Code"] == "RepoNotFound"


def test_remote_token_goes_to_the_hub_only(hf_cache_factory, hub_reset):
    cache = hf_cache_factory(hf_token=hub_reset.token)
    assert requests.get(f"{cache.endpoint}/{MODEL_ID}/resolve/main/big.bin").status_code == 200
    requests.get(f"{cache.endpoint}/api/models/{MODEL_ID}/tree/main")
    stats = hub_reset.stats()
    cdn = stats["cdn_requests"]
    assert cdn, "the LFS body must come from the CDN"
    for request in cdn:
        assert "authorization" not in {name.lower() for name in request["headers"]}
    hub_requests = [r for r in stats["requests"] if r["kind"] != "cdn"]
    assert all(r["authorization"] == f"Bearer {hub_reset.token}" for r in hub_requests)


@pytest.mark.local_pulp
def test_tokens_never_appear_in_logs(hf_cache_factory, hf_token_guard_factory, hub_reset):
    """Exercise token paths, then grep every log the Pulp processes wrote in this run."""
    remote_token = f"hf_remote_{uuid.uuid4().hex}"
    client_token = f"hf_client_{uuid.uuid4().hex}"
    guard = hf_token_guard_factory([client_token])
    cache = hf_cache_factory(hf_token=remote_token, content_guard=guard.pulp_href)
    url = f"{cache.endpoint}/{MODEL_ID}/resolve/main/config.json"
    # Upstream rejects the remote's token for the private repo: an error path with a token.
    requests.get(
        f"{cache.endpoint}/{PRIVATE_ID}/resolve/main/config.json",
        headers={"Authorization": f"Bearer {client_token}"},
    )
    requests.get(url, headers={"Authorization": "Bearer hf_wrong_but_logged_token"})
    requests.get(url, headers={"Authorization": f"Bearer {client_token}"})

    log_dir = Path(os.environ["PULP_HF_STATE_DIR"]) / "log"
    logs = sorted(log_dir.glob("*.log"))
    assert logs, f"no Pulp logs under {log_dir}"
    secrets = (remote_token, client_token, hub_reset.token, "hf_wrong_but_logged_token")
    for log in logs:
        text = log.read_text(errors="replace")
        for secret in secrets:
            assert secret not in text, f"{secret[:8]}... found in {log}"


def test_client_token_is_not_forwarded_without_a_guard(hf_cache_factory, hub_reset):
    cache = hf_cache_factory()
    client_token = "hf_users_own_token_0123456789"
    for path in (f"{MODEL_ID}/resolve/main/config.json", f"api/models/{MODEL_ID}/tree/main"):
        response = requests.get(
            f"{cache.endpoint}/{path}", headers={"Authorization": f"Bearer {client_token}"}
        )
        assert response.status_code == 200
    requests_seen = hub_reset.stats()["requests"]
    assert requests_seen
    assert all(client_token not in str(r.get("authorization")) for r in requests_seen)


@pytest.mark.parametrize("honest_first", [True, False], ids=["honest-first", "diverged-first"])
def test_each_remote_serves_only_its_own_hubs_bytes(
    hf_cache_factory, hub_reset, diverged_hub, honest_first
):
    honest = SimpleNamespace(hub=hub_reset, cache=hf_cache_factory())
    diverged = SimpleNamespace(hub=diverged_hub, cache=hf_cache_factory(url=diverged_hub.url))
    visitors = [honest, diverged] if honest_first else [diverged, honest]
    commit = hub_reset.commit_sha(MIRRORED_ID, "main")
    assert diverged_hub.commit_sha(MIRRORED_ID, "main") == commit  # both claim the same commit
    for filename in DIVERGED_FILES:
        assert hub_reset.file_bytes(MIRRORED_ID, filename) != diverged_hub.file_bytes(
            MIRRORED_ID, filename
        )
        for visit in ("first", "second", "third"):
            for side in visitors:
                facts = side.hub.repo(MIRRORED_ID)["files"]["A"][filename]
                etag = f'"{facts["etag"]}"'
                url = f"{side.cache.endpoint}/{MIRRORED_ID}/resolve/main/{filename}"
                head = requests.head(url)
                body = requests.get(url)
                where = (visit, side.hub.url, filename)
                assert body.content == side.hub.file_bytes(MIRRORED_ID, filename), where
                assert head.headers["ETag"] == body.headers["ETag"] == etag, where
                assert head.headers["X-Repo-Commit"] == commit, where


def test_same_bytes_from_two_hubs_are_stored_once(
    hf_cache_factory, hub_reset, diverged_hub, hugging_face_bindings, pulpcore_bindings
):
    filename = "shared.txt"  # not among DIVERGED_FILES: both hubs have the same bytes
    data = hub_reset.file_bytes(MIRRORED_ID, filename)
    assert diverged_hub.file_bytes(MIRRORED_ID, filename) == data
    for hub in (hub_reset, diverged_hub):
        cache = hf_cache_factory(url=hub.url)
        assert (
            requests.get(f"{cache.endpoint}/{MIRRORED_ID}/resolve/main/{filename}").content == data
        )
    digest = hashlib.sha256(data).hexdigest()
    commit = hub_reset.commit_sha(MIRRORED_ID, "main")
    units = hugging_face_bindings.ContentHuggingFaceApi.list(commit=commit, path=filename)
    assert [u.sha256 for u in units.results] == [digest]
    assert pulpcore_bindings.ArtifactsApi.list(sha256=digest).count == 1
