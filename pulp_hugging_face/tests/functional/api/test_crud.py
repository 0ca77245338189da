"""REST API of remotes, distributions and repositories."""

import uuid

import pytest
from pulp_glue.common.exceptions import PulpHTTPError


def test_remote_defaults_and_write_only_token(
    hugging_face_bindings, gen_object_with_cleanup, monitor_task
):
    remotes = hugging_face_bindings.RemotesHuggingFaceApi
    token = f"hf_{uuid.uuid4().hex}"
    remote = gen_object_with_cleanup(remotes, {"name": str(uuid.uuid4()), "hf_token": token})

    assert remote.url == "https://huggingface.co"
    assert remote.policy == "on_demand"
    assert remote.metadata_ttl == 300
    assert not hasattr(remote, "hf_token")
    hidden = {field.name: field.is_set for field in remote.hidden_fields}
    assert hidden["hf_token"] is True

    read = hugging_face_bindings.RemotesHuggingFaceApi.ctx.call(
        "remotes_hugging_face_hugging_face_read",
        parameters={"hugging_face_hugging_face_remote_href": remote.pulp_href},
    )
    assert token not in repr(read)

    new_token = f"hf_{uuid.uuid4().hex}"
    task = remotes.ctx.call(
        "remotes_hugging_face_hugging_face_partial_update",
        parameters={"hugging_face_hugging_face_remote_href": remote.pulp_href},
        body={"hf_token": new_token},
        non_blocking=True,
    )
    finished = monitor_task(task["pulp_href"])
    assert finished.state == "completed"
    assert new_token not in repr(finished.to_dict())

    remotes.partial_update(remote.pulp_href, {"hf_token": "", "metadata_ttl": 5})
    updated = remotes.read(remote.pulp_href)
    assert {f.name: f.is_set for f in updated.hidden_fields}["hf_token"] is False
    assert updated.metadata_ttl == 5


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.com"},
        {"url": "https://huggingface.co/?x=1"},
        {"policy": "immediate"},
        {"metadata_ttl": -1},
        {"metadata_timeout": 0},
    ],
)
def test_remote_rejects_invalid_fields(hugging_face_bindings, body):
    with pytest.raises(PulpHTTPError) as error:
        # Skip pulp-glue's client-side schema check: the server must refuse on its own.
        hugging_face_bindings.RemotesHuggingFaceApi.ctx.call(
            "remotes_hugging_face_hugging_face_create",
            body={"name": str(uuid.uuid4()), **body},
            validate_body=False,
        )
    assert error.value.status_code == 400
    assert next(iter(body)) in str(error.value)


def test_distribution_exposes_remote_and_repository(
    hf_remote_factory, hf_repository_factory, hf_distribution_factory
):
    remote = hf_remote_factory()
    repository = hf_repository_factory()
    distribution = hf_distribution_factory(remote=remote.pulp_href, repository=repository.pulp_href)
    assert distribution.remote == remote.pulp_href
    assert distribution.repository == repository.pulp_href
    assert distribution.base_url.rstrip("/").endswith(distribution.base_path)
