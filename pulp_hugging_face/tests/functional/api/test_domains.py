"""Pulp domains never see each other's cached files or metadata (needs DOMAIN_ENABLED)."""

import uuid

import pytest
import requests

from pulp_hugging_face.tests.functional.fake_hub import MODEL_ID, free_port

pytestmark = pytest.mark.domains


def cache_in_domain(bindings, gen_object_with_cleanup, url, base_path):
    remote = gen_object_with_cleanup(
        bindings.RemotesHuggingFaceApi, {"name": str(uuid.uuid4()), "url": url}
    )
    distribution = gen_object_with_cleanup(
        bindings.DistributionsHuggingFaceApi,
        {"name": str(uuid.uuid4()), "base_path": base_path, "remote": remote.pulp_href},
    )
    return distribution.base_url.rstrip("/")


def test_domains_do_not_share_the_cache(
    hf_domain_factory, hugging_face_domain_bindings, gen_object_with_cleanup, hub_reset
):
    first, second = hf_domain_factory(), hf_domain_factory()
    first_bindings = hugging_face_domain_bindings(first.name)
    second_bindings = hugging_face_domain_bindings(second.name)
    base_path = f"hf-{uuid.uuid4().hex[:8]}"  # the same base path in both domains
    dead_hub = f"http://127.0.0.1:{free_port()}"  # nothing listens: upstream is down
    first_url = cache_in_domain(first_bindings, gen_object_with_cleanup, hub_reset.url, base_path)
    second_url = cache_in_domain(second_bindings, gen_object_with_cleanup, dead_hub, base_path)
    assert f"/{first.name}/" in first_url and f"/{second.name}/" in second_url

    commit = hub_reset.commit_sha(MODEL_ID, "main")
    paths = [
        f"{MODEL_ID}/resolve/{commit}/config.json",
        f"{MODEL_ID}/resolve/main/big.bin",
        f"api/models/{MODEL_ID}/revision/main",
        f"api/models/{MODEL_ID}/tree/{commit}",
    ]
    for path in paths:
        assert requests.get(f"{first_url}/{path}").status_code == 200, path

    for path in paths:
        for method in ("GET", "HEAD"):
            response = requests.request(method, f"{second_url}/{path}", timeout=60)
            assert response.status_code == 504, (method, path, response.status_code)
            assert response.headers["X-Error-Code"] == "UpstreamUnavailable"
    assert second_bindings.ContentHuggingFaceApi.list().count == 0
    assert first_bindings.ContentHuggingFaceApi.list(commit=commit).count == 2

    hub_reset.reset()
    assert requests.get(f"{first_url}/{paths[0]}").content == hub_reset.file_bytes(
        MODEL_ID, "config.json"
    )
    assert hub_reset.count() == 0
