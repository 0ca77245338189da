"""Allow and deny rules of a remote: what a client may pull through, and the errors it sees."""

import uuid

import pytest
import requests
from pulp_glue.common.exceptions import PulpHTTPError

from pulp_hugging_face.tests.functional.api.test_client_generations import GENERATIONS, python_of
from pulp_hugging_face.tests.functional.fake_hub import DATASET_ID, MODEL_ID

CLIENT_ERROR = """
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import GatedRepoError
try:
    hf_hub_download({repo_id!r}, {filename!r}, repo_type={repo_type!r})
    result = {{"error": None}}
except GatedRepoError as exc:
    result = {{"error": type(exc).__name__, "status": exc.response.status_code, "text": str(exc)}}
"""

LIST_FILES = """
from huggingface_hub import HfApi
result = sorted(HfApi().list_repo_files({repo_id!r}))
"""

API_ERROR = """
from huggingface_hub import HfApi
from huggingface_hub.errors import GatedRepoError
try:
    HfApi().model_info({repo_id!r})
    result = {{"error": None}}
except GatedRepoError as exc:
    result = {{"error": type(exc).__name__, "text": str(exc)}}
"""


def client_error(hf_client, endpoint, repo_id, filename, repo_type="model", python=None):
    code = CLIENT_ERROR.format(repo_id=repo_id, filename=filename, repo_type=repo_type)
    return hf_client(code, endpoint, python=python)


def resolve_url(endpoint, filename, repo_id=MODEL_ID, revision="main"):
    return f"{endpoint}/{repo_id}/resolve/{revision}/{filename}"


def create_remote(bindings, **fields):
    return bindings.RemotesHuggingFaceApi.ctx.call(
        "remotes_hugging_face_hugging_face_create",
        body={"name": str(uuid.uuid4()), **fields},
        validate_body=False,
    )


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("deny_repos", ["org/*", "re:(unclosed"], "not a valid regular expression"),
        ("allow_repos", ["re:"], "followed by a regular expression"),
        ("deny_files", [""], "non-empty"),
        ("allow_files", ["ok/*", "a\u0007b"], "control characters"),
        ("repo_types", ["models"], "Unknown repo type"),
        ("repo_types", [], "At least one repo type"),
        ("max_file_size", -1, "greater than or equal to 0"),
        ("max_size", -5, "greater than or equal to 0"),
        ("max_unused_age", 0, "greater than or equal to 1"),
    ],
)
def test_a_bad_rule_is_a_400_naming_the_field(hugging_face_bindings, field, value, message):
    with pytest.raises(PulpHTTPError) as error:
        create_remote(hugging_face_bindings, **{field: value})
    assert error.value.status_code == 400
    assert field in str(error.value) and message in str(error.value)


def test_the_remote_shows_its_rules_and_storage_fields(hf_remote_factory):
    remote = hf_remote_factory(
        allow_repos=["sentence-transformers/*", "re:fake-org/.*"],
        deny_files=["*.bin", "*.pkl"],
        repo_types=["dataset", "model"],
        max_file_size=10**9,
        max_size=10**10,
        max_unused_age=30,
    )
    assert remote.allow_repos == ["sentence-transformers/*", "re:fake-org/.*"]
    assert remote.deny_repos == []
    assert remote.deny_files == ["*.bin", "*.pkl"]
    assert remote.repo_types == ["model", "dataset"]
    assert (remote.max_file_size, remote.max_size, remote.max_unused_age) == (10**9, 10**10, 30)
    assert (remote.used_bytes, remote.file_count, remote.last_eviction) == (0, 0, None)


def test_a_new_remote_serves_every_repo_type(hf_remote_factory):
    remote = hf_remote_factory()
    assert remote.repo_types == ["model", "dataset", "space"]
    assert remote.max_size is None and remote.max_unused_age is None


def test_a_denied_repo_is_a_typed_client_error_with_no_upstream_request(
    hf_cache_factory, hub_reset, hf_client
):
    cache = hf_cache_factory(deny_repos=["sentence-transformers/*"])

    result = client_error(hf_client, cache.endpoint, MODEL_ID, "config.json")

    assert result["error"] == "GatedRepoError"
    assert result["status"] == 403
    assert "deny_repos 'sentence-transformers/*'" in result["text"]
    assert hub_reset.count() == 0, hub_reset.stats()["requests"]


def test_a_denied_repo_is_refused_on_api_calls_too(hf_cache_factory, hub_reset, hf_client):
    cache = hf_cache_factory(deny_repos=["re:sentence-transformers/.*"])

    result = hf_client(API_ERROR.format(repo_id=MODEL_ID), cache.endpoint)

    assert result["error"] == "GatedRepoError"
    assert "deny_repos 're:sentence-transformers/.*'" in result["text"]
    assert hub_reset.count() == 0


def test_a_repo_outside_allow_repos_is_refused(hf_cache_factory, hub_reset):
    cache = hf_cache_factory(allow_repos=["fake-org/*"])

    response = requests.head(resolve_url(cache.endpoint, "config.json"))

    assert response.status_code == 403
    assert response.headers["X-Error-Code"] == "GatedRepo"
    assert "allow_repos" in response.headers["X-Error-Message"]
    assert hub_reset.count() == 0


def test_a_repo_type_not_served_is_refused(hf_cache_factory, hub_reset, hf_client):
    cache = hf_cache_factory(repo_types=["model"])

    result = client_error(hf_client, cache.endpoint, DATASET_ID, "data/train.csv", "dataset")

    assert result["error"] == "GatedRepoError"
    assert "repo_types" in result["text"]
    assert hub_reset.count() == 0


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_a_denied_file_pattern_is_a_403_naming_the_rule_before_any_upstream_request(
    hf_cache_factory, hub_reset, method
):
    cache = hf_cache_factory(deny_files=["*.pkl", "*.bin"])

    response = requests.request(method, resolve_url(cache.endpoint, "big.bin"))

    assert response.status_code == 403
    assert "deny_files '*.bin'" in response.headers["X-Error-Message"]
    if method == "GET":
        assert "deny_files '*.bin'" in response.json()["error"]
    assert hub_reset.count() == 0


def test_a_denied_file_is_a_typed_client_error_and_other_files_are_served(
    hf_cache_factory, hub_reset, hf_client
):
    cache = hf_cache_factory(deny_files=["*.bin"])

    denied = client_error(hf_client, cache.endpoint, MODEL_ID, "big.bin")
    assert denied["error"] == "GatedRepoError"
    assert "deny_files '*.bin'" in denied["text"]
    assert hub_reset.count() == 0

    assert client_error(hf_client, cache.endpoint, MODEL_ID, "config.json") == {"error": None}


@pytest.mark.parametrize("generation", GENERATIONS)
def test_older_client_generations_get_the_same_typed_error_for_a_denied_file(
    hf_cache_factory, hub_reset, hf_client, generation
):
    python = python_of(generation)
    cache = hf_cache_factory(deny_files=["*.bin"])

    denied = client_error(hf_client, cache.endpoint, MODEL_ID, "big.bin", python=python)

    assert denied["error"] == "GatedRepoError"
    assert "deny_files '*.bin'" in denied["text"]
    assert hub_reset.count() == 0


def test_listings_of_an_allowed_repo_keep_showing_denied_files(
    hf_cache_factory, hub_reset, hf_client
):
    cache = hf_cache_factory(allow_files=["*.json"])

    files = hf_client(LIST_FILES.format(repo_id=MODEL_ID), cache.endpoint)

    assert "big.bin" in files and "model.safetensors" in files
    assert requests.head(resolve_url(cache.endpoint, "big.bin")).status_code == 403


def test_max_file_size_is_decided_from_metadata_without_downloading(hf_cache_factory, hub_reset):
    size = hub_reset.repo(MODEL_ID)["files"]["A"]["model.safetensors"]["size"]
    cache = hf_cache_factory(max_file_size=size - 1)

    for method in ("HEAD", "GET"):
        response = requests.request(method, resolve_url(cache.endpoint, "model.safetensors"))
        assert response.status_code == 403
        assert f"max_file_size {size - 1}" in response.headers["X-Error-Message"]
    # One metadata request to learn the size (the second answer comes from it); no body.
    assert hub_reset.count("cdn") == 0
    assert hub_reset.count("resolve") == 1, hub_reset.stats()["requests"]


def test_a_file_of_exactly_max_file_size_is_served(hf_cache_factory, hub_reset):
    size = hub_reset.repo(MODEL_ID)["files"]["A"]["model.safetensors"]["size"]
    cache = hf_cache_factory(max_file_size=size)

    response = requests.get(resolve_url(cache.endpoint, "model.safetensors"))

    assert response.status_code == 200
    assert len(response.content) == size


def test_rules_changed_on_the_remote_apply_to_the_next_request(
    hf_cache_factory, hugging_face_bindings, hub_reset
):
    cache = hf_cache_factory()
    url = resolve_url(cache.endpoint, "config.json")
    assert requests.get(url).status_code == 200

    hugging_face_bindings.RemotesHuggingFaceApi.partial_update(
        cache.remote.pulp_href, {"deny_files": ["config.json"]}
    )

    response = requests.get(url)
    assert response.status_code == 403
    assert "deny_files 'config.json'" in response.headers["X-Error-Message"]
