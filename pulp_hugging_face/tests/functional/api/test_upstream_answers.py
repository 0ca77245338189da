"""What upstream says can never cause a 500: odd answers get an HF-style 502 naming the problem.

The upstream here is a `HostileHub` that sends exactly the answer each test gives it.
"""

import json

import pytest
import requests

from pulp_hugging_face.tests.functional.hostile_hub import HostileHub

REPO = "org/model"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
SHA1 = "c" * 40
RESOLVE = f"/{REPO}/resolve/main/config.json"
INFO = f"/api/models/{REPO}/revision/main"
TREE = f"/api/models/{REPO}/tree/{COMMIT}"


@pytest.fixture
def hostile(hf_cache_factory):
    with HostileHub() as hub:
        hub.cache = hf_cache_factory(url=hub.url, max_retries=0)
        yield hub


def file_headers(**overrides):
    headers = {"X-Repo-Commit": COMMIT, "ETag": f'"{SHA1}"', "Content-Length": "12"}
    headers.update(overrides)
    return {name: value for name, value in headers.items() if value is not None}


def assert_refused(response, words):
    assert response.status_code == 502, (response.status_code, response.text)
    assert response.headers["X-Error-Code"] == "UpstreamUnavailable"
    assert words in response.headers["X-Error-Message"]
    if response.request.method != "HEAD":
        assert words in response.json()["error"]


@pytest.mark.parametrize(
    "headers, words",
    [
        pytest.param(file_headers(ETag=f'"{"e" * 129}"'), "ETag", id="etag-129-characters"),
        pytest.param(file_headers(ETag='"a/../b"'), "ETag", id="etag-with-slash"),
        pytest.param(
            file_headers(**{"X-Linked-Size": str(2**63)}), "size", id="size-beyond-bigint"
        ),
        pytest.param(
            file_headers(**{"Content-Length": str(2**64)}),
            "not valid HTTP (Content-Length overflow",
            id="content-length-overflow",
        ),
        pytest.param(
            file_headers(**{"X-Linked-Size": "1e9", "Content-Length": None}),
            "size",
            id="size-not-digits",
        ),
        pytest.param(
            file_headers(**{"X-Repo-Commit": "\xe9" * 40}), "X-Repo-Commit", id="non-ascii"
        ),
        pytest.param(file_headers(**{"X-Repo-Commit": None}), "X-Repo-Commit", id="no-commit"),
        pytest.param(file_headers(ETag=None), "ETag", id="no-etag"),
    ],
)
@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_unusable_file_headers_give_a_502(hostile, headers, words, method):
    hostile.answer("HEAD", RESOLVE, 200, headers)
    response = requests.request(method, hostile.cache.endpoint + RESOLVE, timeout=30)
    assert_refused(response, words)
    assert ("GET", RESOLVE) not in hostile.requests  # no body fetched for unusable facts


@pytest.mark.parametrize(
    "body, words",
    [
        pytest.param(b"", "empty", id="empty-body"),
        pytest.param(b"<html>", "not valid JSON", id="not-json"),
        pytest.param(b'[{"sha": "%s"}]' % COMMIT.encode(), "not a JSON object", id="a-list"),
        pytest.param(b'{"id": "org/model"}', "no commit sha", id="sha-missing"),
        pytest.param(b'{"sha": 12}', "no commit sha", id="sha-a-number"),
        pytest.param(b'{"sha": "main"}', "no commit sha", id="sha-not-a-commit"),
    ],
)
def test_unusable_info_answers_give_a_502(hostile, body, words):
    hostile.answer("GET", INFO, 200, {"Content-Type": "application/json"}, body)
    response = requests.get(hostile.cache.endpoint + INFO, timeout=30)
    assert_refused(response, words)


@pytest.mark.parametrize(
    "body, words",
    [
        pytest.param(b'{"path": "a"}', "not a JSON list", id="an-object"),
        pytest.param(b'["a", 1]', "not objects", id="entries-not-objects"),
        pytest.param(b"", "empty", id="empty-body"),
    ],
)
def test_unusable_listings_give_a_502(hostile, body, words):
    hostile.answer("GET", TREE, 200, {"Content-Type": "application/json"}, body)
    response = requests.get(hostile.cache.endpoint + TREE, timeout=30)
    assert_refused(response, words)


def test_listing_entries_with_unusable_facts_are_passed_on_but_not_trusted(hostile):
    entries = [
        {"type": "file", "path": "config.json", "oid": SHA1, "size": 2**64},
        {"type": "file", "path": "x" * 5000, "oid": SHA1, "size": 1},
    ]
    hostile.answer(
        "GET", TREE, 200, {"Content-Type": "application/json"}, json.dumps(entries).encode()
    )
    listing = requests.get(hostile.cache.endpoint + TREE, timeout=30)
    assert listing.status_code == 200
    assert listing.json() == entries
    # The entry's size was not kept as a fact: the HEAD asks upstream, and gets its answer.
    hostile.answer("HEAD", f"/{REPO}/resolve/{COMMIT}/config.json", 200, file_headers())
    head = requests.head(f"{hostile.cache.endpoint}/{REPO}/resolve/{COMMIT}/config.json")
    assert head.status_code == 200
    assert head.headers["X-Linked-Size"] == "12"


def test_upstream_error_headers_are_made_safe(hostile):
    hostile.answer(
        "HEAD",
        RESOLVE,
        404,
        {
            "X-Error-Code": "Entry Not\xe9Found",
            "X-Error-Message": "caf\xe9 " + "m" * 2000,
            "X-Repo-Commit": "not-a-commit",
        },
    )
    response = requests.head(hostile.cache.endpoint + RESOLVE, timeout=30)
    assert response.status_code == 404
    assert "X-Error-Code" not in response.headers  # not a code a client knows
    assert "X-Repo-Commit" not in response.headers
    message = response.headers["X-Error-Message"]
    assert message.isascii() and len(message) <= 512


def test_upstream_redirect_to_an_invalid_url_gives_a_502(hostile):
    hostile.answer("HEAD", RESOLVE, 307, {"Location": "http://[::1:bad/x"})
    response = requests.head(hostile.cache.endpoint + RESOLVE, timeout=30)
    assert_refused(response, "redirect")
