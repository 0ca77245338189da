"""Table-driven tests of the pure Hub protocol module `pulp_hugging_face/app/hub.py`."""

import json

import pytest
from multidict import CIMultiDict

from pulp_hugging_face.app import hub

COMMIT = "0123456789abcdef0123456789abcdef01234567"
OTHER_COMMIT = "fedcba9876543210fedcba9876543210fedcba98"
SHA1 = "a9993e364706816aba3e25717850c26c9cd0d89d"
SHA256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

MODEL, DATASET, SPACE = hub.MODEL, hub.DATASET, hub.SPACE


def repo(repo_id, repo_type=MODEL):
    return hub.RepoRef(repo_type, repo_id)


def resolve(repo_id, revision, filename, repo_type=MODEL):
    return hub.ResolveRequest(repo(repo_id, repo_type), revision, filename)


def api(repo_id, endpoint, revision=None, subpath="", repo_type=MODEL):
    return hub.ApiRequest(repo(repo_id, repo_type), endpoint, revision, subpath)


def assert_bad_path(raw_path):
    with pytest.raises(hub.BadHubPath) as info:
        hub.parse_hub_path(raw_path)
    error = info.value
    assert error.status == 400
    assert error.code == hub.BAD_REQUEST
    assert error.commit is None
    assert error.message


# --- resolve paths -------------------------------------------------------------------------

RESOLVE_PATHS = [
    pytest.param(
        "gpt2/resolve/main/config.json",
        resolve("gpt2", "main", "config.json"),
        id="model-without-namespace",
    ),
    pytest.param(
        "openai-community/gpt2/resolve/main/config.json",
        resolve("openai-community/gpt2", "main", "config.json"),
        id="model-with-namespace",
    ),
    pytest.param(
        "datasets/org/name/resolve/main/data/train.parquet",
        resolve("org/name", "main", "data/train.parquet", DATASET),
        id="dataset-with-namespace",
    ),
    pytest.param(
        "datasets/squad/resolve/main/README.md",
        resolve("squad", "main", "README.md", DATASET),
        id="dataset-without-namespace",
    ),
    pytest.param(
        "spaces/org/app/resolve/main/app.py",
        resolve("org/app", "main", "app.py", SPACE),
        id="space",
    ),
    pytest.param(
        "org/name/resolve/v1.0/model.safetensors",
        resolve("org/name", "v1.0", "model.safetensors"),
        id="revision-tag-with-dot",
    ),
    pytest.param(
        "org/name/resolve/refs%2Fpr%2F1/config.json",
        resolve("org/name", "refs/pr/1", "config.json"),
        id="revision-pr-encoded",
    ),
    pytest.param(
        "org/name/resolve/refs%2fpr%2f42/config.json",
        resolve("org/name", "refs/pr/42", "config.json"),
        id="revision-pr-lowercase-escapes",
    ),
    pytest.param(
        "datasets/org/name/resolve/refs%2Fconvert%2Fparquet/default/train/0000.parquet",
        resolve("org/name", "refs/convert/parquet", "default/train/0000.parquet", DATASET),
        id="revision-convert-parquet",
    ),
    pytest.param(
        "org/name/resolve/refs%2Fheads%2Fmain/x.bin",
        resolve("org/name", "refs/heads/main", "x.bin"),
        id="revision-refs-heads",
    ),
    pytest.param(
        "org/name/resolve/refs%2Ftags%2Fv1.0/x.bin",
        resolve("org/name", "refs/tags/v1.0", "x.bin"),
        id="revision-refs-tags",
    ),
    pytest.param(
        "org/name/resolve/release%2F2024-01/x.bin",
        resolve("org/name", "release/2024-01", "x.bin"),
        id="revision-branch-with-slash",
    ),
    pytest.param(
        f"org/name/resolve/{COMMIT}/config.json",
        resolve("org/name", COMMIT, "config.json"),
        id="revision-commit",
    ),
    pytest.param(
        "org/name/resolve/main/a/b/c/d.bin",
        resolve("org/name", "main", "a/b/c/d.bin"),
        id="nested-file",
    ),
    pytest.param(
        "org/name/resolve/main/sub%2Ffile.txt",
        resolve("org/name", "main", "sub/file.txt"),
        id="encoded-slash-in-file-path",
    ),
    pytest.param(
        "org/name/resolve/main/my%20file.txt",
        resolve("org/name", "main", "my file.txt"),
        id="file-with-space",
    ),
    pytest.param(
        "org/name/resolve/main/%C3%BC%E2%82%AC.txt",
        resolve("org/name", "main", "\u00fc\u20ac.txt"),
        id="file-non-ascii-percent-encoded",
    ),
    pytest.param(
        "org/name/resolve/main/\u00fc\u20ac.txt",
        resolve("org/name", "main", "\u00fc\u20ac.txt"),
        id="file-non-ascii-raw",
    ),
    pytest.param(
        "org/name/resolve/main/a+b.txt",
        resolve("org/name", "main", "a+b.txt"),
        id="plus-is-not-a-space",
    ),
    pytest.param(
        "org/name/resolve/main/100%25.txt",
        resolve("org/name", "main", "100%.txt"),
        id="encoded-percent",
    ),
    pytest.param(
        "org/name/resolve/main/what%3F.txt",
        resolve("org/name", "main", "what?.txt"),
        id="encoded-question-mark",
    ),
    pytest.param(
        "org/name/resolve/main/.gitattributes",
        resolve("org/name", "main", ".gitattributes"),
        id="dot-file",
    ),
    pytest.param(
        "org/name/resolve/main/a..b/...",
        resolve("org/name", "main", "a..b/..."),
        id="dots-that-are-not-traversal",
    ),
    pytest.param(
        "org/name/resolve/main/config.json?download=true&x=../..",
        resolve("org/name", "main", "config.json"),
        id="query-string-ignored",
    ),
    pytest.param(
        "resolve/resolve/main/x",
        resolve("resolve", "main", "x"),
        id="repo-named-resolve",
    ),
    pytest.param(
        "org/resolve/resolve/main/x",
        resolve("org/resolve", "main", "x"),
        id="namespaced-repo-named-resolve",
    ),
    pytest.param(
        "datasets/datasets/resolve/main/x",
        resolve("datasets", "main", "x", DATASET),
        id="dataset-named-datasets",
    ),
    pytest.param(
        "Org_1/my.model-v2_/resolve/main/x",
        resolve("Org_1/my.model-v2_", "main", "x"),
        id="repo-id-all-allowed-characters",
    ),
    pytest.param(
        "org/" + "n" * 96 + "/resolve/main/x",
        resolve("org/" + "n" * 96, "main", "x"),
        id="repo-name-96-chars",
    ),
    pytest.param(
        "org/name/resolve/" + "r" * 256 + "/x",
        resolve("org/name", "r" * 256, "x"),
        id="revision-256-chars",
    ),
    pytest.param(
        "org/name/resolve/main/" + "f" * 1024,
        resolve("org/name", "main", "f" * 1024),
        id="file-1024-bytes",
    ),
]


@pytest.mark.parametrize("raw_path, expected", RESOLVE_PATHS)
def test_parse_resolve_path(raw_path, expected):
    assert hub.parse_hub_path(raw_path) == expected


@pytest.mark.parametrize("raw_path, expected", RESOLVE_PATHS)
def test_resolve_request_path_round_trips(raw_path, expected):
    assert hub.parse_hub_path(expected.path()) == expected


@pytest.mark.parametrize("raw_path, expected", RESOLVE_PATHS)
def test_resolve_request_path_at_commit(raw_path, expected):
    path = expected.path(revision=OTHER_COMMIT)
    assert f"/resolve/{OTHER_COMMIT}/" in path
    assert hub.parse_hub_path(path) == hub.ResolveRequest(
        expected.repo, OTHER_COMMIT, expected.filename
    )


@pytest.mark.parametrize(
    "request_, expected_path",
    [
        pytest.param(
            resolve("gpt2", "main", "config.json"), "gpt2/resolve/main/config.json", id="model"
        ),
        pytest.param(
            resolve("org/name", "refs/pr/1", "my file.txt", DATASET),
            "datasets/org/name/resolve/refs%2Fpr%2F1/my%20file.txt",
            id="dataset-pr-space",
        ),
        pytest.param(
            resolve("org/app", "refs/convert/parquet", "a/b/\u00fc#?%.bin", SPACE),
            "spaces/org/app/resolve/refs%2Fconvert%2Fparquet/a/b/%C3%BC%23%3F%25.bin",
            id="space-convert-special-chars",
        ),
    ],
)
def test_resolve_request_path_format(request_, expected_path):
    assert request_.path() == expected_path
    assert request_.path(revision=COMMIT) == expected_path.replace(
        "/" + hub.quote_revision(request_.revision) + "/", f"/{COMMIT}/", 1
    )


# --- API paths -----------------------------------------------------------------------------

API_PATHS = [
    pytest.param("api/models/org/name", api("org/name", "info"), id="info-namespaced"),
    pytest.param("api/models/gpt2", api("gpt2", "info"), id="info-no-namespace"),
    pytest.param("api/models/org/name/", api("org/name", "info"), id="info-trailing-slash"),
    pytest.param(
        "api/models/org/name?expand=sha&blobs=true", api("org/name", "info"), id="info-query"
    ),
    pytest.param(
        "api/models/org/name/revision/main", api("org/name", "info", "main"), id="info-revision"
    ),
    pytest.param(
        "api/models/gpt2/revision/main",
        api("gpt2", "info", "main"),
        id="info-revision-no-namespace",
    ),
    pytest.param(
        "api/models/org/name/revision/refs%2Fpr%2F1",
        api("org/name", "info", "refs/pr/1"),
        id="info-revision-pr",
    ),
    pytest.param(
        f"api/models/org/name/revision/{COMMIT}",
        api("org/name", "info", COMMIT),
        id="info-revision-commit",
    ),
    pytest.param("api/models/org/name/tree/main", api("org/name", "tree", "main"), id="tree"),
    pytest.param(
        "api/models/org/name/tree/main/", api("org/name", "tree", "main"), id="tree-trailing-slash"
    ),
    pytest.param("api/models/gpt2/tree/main", api("gpt2", "tree", "main"), id="tree-no-namespace"),
    pytest.param(
        "api/models/org/name/tree/main/sub%2Fdir",
        api("org/name", "tree", "main", "sub/dir"),
        id="tree-subpath-encoded",
    ),
    pytest.param(
        "api/models/org/name/tree/main/sub/dir",
        api("org/name", "tree", "main", "sub/dir"),
        id="tree-subpath-raw",
    ),
    pytest.param(
        "api/models/org/name/tree/main/my%20dir%2F%C3%BC",
        api("org/name", "tree", "main", "my dir/\u00fc"),
        id="tree-subpath-space-non-ascii",
    ),
    pytest.param(
        "api/models/org/name/tree/main?recursive=true&cursor=abc",
        api("org/name", "tree", "main"),
        id="tree-query",
    ),
    pytest.param(
        f"api/models/org/name/tree/{COMMIT}/data",
        api("org/name", "tree", COMMIT, "data"),
        id="tree-commit",
    ),
    pytest.param(
        "api/models/org/name/paths-info/main",
        api("org/name", "paths-info", "main"),
        id="paths-info",
    ),
    pytest.param(
        "api/models/org/name/paths-info/main/",
        api("org/name", "paths-info", "main"),
        id="paths-info-trailing-slash",
    ),
    pytest.param(
        "api/datasets/org/name/tree/refs%2Fconvert%2Fparquet/default%2Ftrain",
        api("org/name", "tree", "refs/convert/parquet", "default/train", DATASET),
        id="datasets-tree-convert",
    ),
    pytest.param(
        "api/datasets/squad/revision/main",
        api("squad", "info", "main", repo_type=DATASET),
        id="datasets-info-no-namespace",
    ),
    pytest.param(
        "api/datasets/org/name/paths-info/refs%2Fpr%2F3",
        api("org/name", "paths-info", "refs/pr/3", repo_type=DATASET),
        id="datasets-paths-info",
    ),
    pytest.param("api/spaces/org/app", api("org/app", "info", repo_type=SPACE), id="spaces-info"),
    pytest.param(
        "api/spaces/org/app/tree/main",
        api("org/app", "tree", "main", repo_type=SPACE),
        id="spaces-tree",
    ),
    pytest.param("api/models/org/name/refs", api("org/name", "refs"), id="refs"),
    pytest.param("api/models/gpt2/refs", api("gpt2", "refs"), id="refs-no-namespace"),
    pytest.param(
        "api/models/org/name/refs?include_prs=1", api("org/name", "refs"), id="refs-query"
    ),
    pytest.param("api/models/resolve", api("resolve", "info"), id="repo-named-resolve"),
]

UNSUPPORTED_API_PATHS = [
    pytest.param(
        "api/models/org/name/xet-read-token/main",
        api("org/name", "unsupported"),
        id="xet-read-token",
    ),
    pytest.param(
        f"api/models/gpt2/xet-read-token/{COMMIT}",
        api("gpt2", "unsupported"),
        id="xet-read-token-no-namespace",
    ),
    pytest.param("api/models/org/name/commits/main", api("org/name", "unsupported"), id="commits"),
    pytest.param(
        "api/models/org/name/discussions", api("org/name", "unsupported"), id="discussions"
    ),
    pytest.param(
        "api/datasets/org/name/parquet",
        api("org/name", "unsupported", repo_type=DATASET),
        id="datasets-parquet",
    ),
    pytest.param(
        "api/models/org/name/refs/heads", api("org/name", "unsupported"), id="refs-with-extra"
    ),
    pytest.param(
        "api/models/org/name/resolve/main/x",
        api("org/name", "unsupported"),
        id="resolve-under-api",
    ),
]


@pytest.mark.parametrize("raw_path, expected", API_PATHS + UNSUPPORTED_API_PATHS)
def test_parse_api_path(raw_path, expected):
    assert hub.parse_hub_path(raw_path) == expected


@pytest.mark.parametrize("raw_path, expected", API_PATHS)
def test_api_request_path_round_trips(raw_path, expected):
    assert hub.parse_hub_path(expected.path()) == expected


@pytest.mark.parametrize(
    "request_, revision, expected_path",
    [
        pytest.param(api("org/name", "info"), None, "api/models/org/name", id="info"),
        pytest.param(
            api("org/name", "info"),
            COMMIT,
            f"api/models/org/name/revision/{COMMIT}",
            id="info-at-commit",
        ),
        pytest.param(
            api("org/name", "info", "refs/pr/1"),
            None,
            "api/models/org/name/revision/refs%2Fpr%2F1",
            id="info-pr",
        ),
        pytest.param(
            api("org/name", "info", "main"),
            COMMIT,
            f"api/models/org/name/revision/{COMMIT}",
            id="info-main-at-commit",
        ),
        pytest.param(
            api("org/name", "tree", "main", "sub/dir", DATASET),
            None,
            "api/datasets/org/name/tree/main/sub%2Fdir",
            id="tree-subpath",
        ),
        pytest.param(
            api("org/name", "tree", "refs/convert/parquet", "my dir", DATASET),
            COMMIT,
            f"api/datasets/org/name/tree/{COMMIT}/my%20dir",
            id="tree-at-commit",
        ),
        pytest.param(
            api("org/app", "paths-info", "main", repo_type=SPACE),
            COMMIT,
            f"api/spaces/org/app/paths-info/{COMMIT}",
            id="paths-info-at-commit",
        ),
        pytest.param(api("gpt2", "refs"), None, "api/models/gpt2/refs", id="refs"),
    ],
)
def test_api_request_path_format(request_, revision, expected_path):
    assert request_.path(revision) == expected_path


# --- not Hub paths -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw_path",
    [
        pytest.param("", id="empty"),
        pytest.param("?x=1", id="only-query"),
        pytest.param("foo", id="one-segment"),
        pytest.param("foo/bar", id="two-segments"),
        pytest.param("org/name/tree/main", id="tree-without-api"),
        pytest.param("org/name/blob/main/x", id="blob"),
        pytest.param("a/b/c/resolve/main/x", id="three-part-repo-id"),
        pytest.param("resolve/main/x", id="resolve-without-repo"),
        pytest.param("datasets/resolve/main/x", id="dataset-resolve-without-repo"),
        pytest.param("api", id="api"),
        pytest.param("api/models", id="api-collection-only"),
        pytest.param("api/unknown/x", id="api-unknown-collection"),
        pytest.param("api/kernels/org/name", id="api-kernels"),
        pytest.param("api/whoami-v2", id="api-whoami"),
        pytest.param("api/org/name/resolve/main/x", id="model-namespace-api"),
    ],
)
def test_not_a_hub_path(raw_path):
    assert hub.parse_hub_path(raw_path) is None


# --- hostile and malformed paths -----------------------------------------------------------

BAD_FILE_PATHS = [
    pytest.param("org/name/resolve/main/a/../b", id="dotdot-middle"),
    pytest.param("org/name/resolve/main/..", id="dotdot"),
    pytest.param("org/name/resolve/main/../../etc/passwd", id="dotdot-escape"),
    pytest.param("org/name/resolve/main/a/..", id="dotdot-last"),
    pytest.param("org/name/resolve/main/./a", id="dot-first"),
    pytest.param("org/name/resolve/main/a/./b", id="dot-middle"),
    pytest.param("org/name/resolve/main/a/.", id="dot-last"),
    pytest.param("org/name/resolve/main/a//b", id="empty-segment"),
    pytest.param("org/name/resolve/main/a/", id="trailing-slash"),
    pytest.param("org/name/resolve/main//etc/passwd", id="leading-slash"),
    pytest.param("org/name/resolve/main/%2Fetc%2Fpasswd", id="leading-slash-encoded"),
    pytest.param("org/name/resolve/main/%2F", id="only-encoded-slash"),
    pytest.param("org/name/resolve/main/a\\b", id="backslash"),
    pytest.param("org/name/resolve/main/a%5Cb", id="backslash-encoded"),
    pytest.param("org/name/resolve/main/..%5C..%5Cx", id="backslash-traversal-encoded"),
    pytest.param("org/name/resolve/main/a\x00b", id="nul-raw"),
    pytest.param("org/name/resolve/main/a\nb", id="newline-raw"),
    pytest.param("org/name/resolve/main/a\tb", id="tab-raw"),
    pytest.param("org/name/resolve/main/a\x7fb", id="del-raw"),
    pytest.param("org/name/resolve/main/a%00b", id="nul-encoded"),
    pytest.param("org/name/resolve/main/a%0ab", id="newline-encoded"),
    pytest.param("org/name/resolve/main/a%0D%0Ab", id="crlf-encoded"),
    pytest.param("org/name/resolve/main/a%7fb", id="del-encoded"),
    pytest.param("org/name/resolve/main/a%1Bb", id="escape-encoded"),
    pytest.param("org/name/resolve/main/%00", id="only-nul"),
    pytest.param("org/name/resolve/main/%2e%2e%2fetc%2fpasswd", id="dotdot-slash-encoded"),
    pytest.param("org/name/resolve/main/%2E%2E", id="dotdot-encoded-upper"),
    pytest.param("org/name/resolve/main/%2e", id="dot-encoded"),
    pytest.param("org/name/resolve/main/..%2F..%2Fetc", id="dotdot-encoded-slashes"),
    pytest.param("org/name/resolve/main/a%2F%2E%2E%2Fb", id="dotdot-fully-encoded"),
    pytest.param("org/name/resolve/main/a%2F%2Fb", id="empty-segment-encoded"),
    pytest.param("org/name/resolve/main/%ff", id="invalid-utf8"),
    pytest.param("org/name/resolve/main/%C0%AE%C0%AE/x", id="overlong-utf8-dots"),
    pytest.param("org/name/resolve/main/%ED%A0%80", id="encoded-surrogate"),
    pytest.param("org/name/resolve/main/%E2%82", id="truncated-utf8"),
    pytest.param("org/name/resolve/main/" + "f" * 1025, id="file-1025-bytes"),
    pytest.param("org/name/resolve/main/" + "\u00fc" * 513, id="file-1026-utf8-bytes"),
    pytest.param("org/name/resolve/main/" + "%C3%BC" * 513, id="file-1026-bytes-encoded"),
    pytest.param("org/name/resolve/main", id="no-file"),
    pytest.param("org/name/resolve/main/", id="empty-file"),
    pytest.param("org/name/resolve", id="no-revision"),
    pytest.param("org/name/resolve/main/?x", id="empty-file-before-query"),
]

BAD_REPO_IDS = [
    pytest.param("org%2Fname/resolve/main/x", id="encoded-slash-in-id"),
    pytest.param("org%2fname/resolve/main/x", id="encoded-slash-in-id-lower"),
    pytest.param("org/na%20me/resolve/main/x", id="encoded-space-in-id"),
    pytest.param("org/n%C3%A4me/resolve/main/x", id="encoded-non-ascii-in-id"),
    pytest.param("%2e%2e/name/resolve/main/x", id="encoded-dotdot-namespace"),
    pytest.param("org/na me/resolve/main/x", id="space-in-id"),
    pytest.param("org/n\u00e4me/resolve/main/x", id="non-ascii-in-id"),
    pytest.param("org/na--me/resolve/main/x", id="double-dash"),
    pytest.param("org/na..me/resolve/main/x", id="double-dot"),
    pytest.param("../name/resolve/main/x", id="dotdot-namespace"),
    pytest.param("org/../resolve/main/x", id="dotdot-name"),
    pytest.param("-org/name/resolve/main/x", id="leading-dash-namespace"),
    pytest.param("org-/name/resolve/main/x", id="trailing-dash-namespace"),
    pytest.param("org/-name/resolve/main/x", id="leading-dash-name"),
    pytest.param("org/name-/resolve/main/x", id="trailing-dash-name"),
    pytest.param(".org/name/resolve/main/x", id="leading-dot-namespace"),
    pytest.param("org/name./resolve/main/x", id="trailing-dot-name"),
    pytest.param(".hidden/resolve/main/x", id="leading-dot-no-namespace"),
    pytest.param("org/" + "n" * 97 + "/resolve/main/x", id="name-97-chars"),
    pytest.param("o" * 97 + "/name/resolve/main/x", id="namespace-97-chars"),
    pytest.param("n" * 97 + "/resolve/main/x", id="unnamespaced-97-chars"),
    pytest.param("org/na~me/resolve/main/x", id="tilde"),
    pytest.param("org/na:me/resolve/main/x", id="colon"),
    pytest.param("datasets//name/resolve/main/x", id="empty-namespace"),
    pytest.param("api/models/org%2Fname", id="api-encoded-slash-in-id"),
    pytest.param("api/models/org/na%20me", id="api-encoded-space"),
    pytest.param("api/models/org/na me", id="api-space"),
    pytest.param("api/models/org/n\u00e4me", id="api-non-ascii"),
    pytest.param("api/models/org/na--me", id="api-double-dash"),
    pytest.param("api/models/org/..", id="api-dotdot-name"),
    pytest.param("api/models/../name", id="api-dotdot-namespace"),
    pytest.param("api/models/-org/name", id="api-leading-dash"),
    pytest.param("api/models/org/name.", id="api-trailing-dot"),
    pytest.param("api/models/" + "n" * 97, id="api-97-chars"),
    pytest.param("api/models//name", id="api-empty-namespace"),
    pytest.param("api/datasets/org/na..me/tree/main", id="api-datasets-double-dot"),
]

BAD_REVISIONS = [
    pytest.param("org/name/resolve/a..b/x", id="dotdot-inside"),
    pytest.param("org/name/resolve/../x", id="dotdot"),
    pytest.param("org/name/resolve/%2e%2e/x", id="dotdot-encoded"),
    pytest.param("org/name/resolve/a%2F%2Fb/x", id="double-slash"),
    pytest.param("org/name/resolve/main%2F/x", id="trailing-slash"),
    pytest.param("org/name/resolve/v1.lock/x", id="lock-suffix"),
    pytest.param("org/name/resolve/main./x", id="trailing-dot"),
    pytest.param("org/name/resolve/-main/x", id="leading-dash"),
    pytest.param("org/name/resolve/%2Fmain/x", id="leading-slash"),
    pytest.param("org/name/resolve/.main/x", id="leading-dot"),
    pytest.param("org/name/resolve/a%2F.b/x", id="slash-dot"),
    pytest.param("org/name/resolve/" + "r" * 257 + "/x", id="257-chars"),
    pytest.param("org/name/resolve//x", id="empty"),
    pytest.param("org/name/resolve/refs%2Ffoo/x", id="refs-other"),
    pytest.param("org/name/resolve/refs%2F/x", id="refs-slash"),
    pytest.param("org/name/resolve/refs%2Fpr%2F0/x", id="refs-pr-0"),
    pytest.param("org/name/resolve/refs%2Fpr%2F01/x", id="refs-pr-leading-zero"),
    pytest.param("org/name/resolve/refs%2Fpr%2Fabc/x", id="refs-pr-abc"),
    pytest.param("org/name/resolve/refs%2Fpr%2F/x", id="refs-pr-empty"),
    pytest.param("org/name/resolve/refs%2Fpr%2F1234567890/x", id="refs-pr-10-digits"),
    pytest.param("org/name/resolve/refs%2Fpr%2F1%2Fhead/x", id="refs-pr-suffix"),
    pytest.param("org/name/resolve/refs%2Fheads%2F/x", id="refs-heads-empty"),
    pytest.param("org/name/resolve/ma%20in/x", id="space"),
    pytest.param("org/name/resolve/main~1/x", id="tilde"),
    pytest.param("org/name/resolve/main%5E/x", id="caret"),
    pytest.param("org/name/resolve/main@%7B1%7D/x", id="reflog"),
    pytest.param("org/name/resolve/a:b/x", id="colon"),
    pytest.param("org/name/resolve/%C3%BC/x", id="non-ascii"),
    pytest.param("org/name/resolve/main%00/x", id="nul-encoded"),
    pytest.param("org/name/resolve/main%7f/x", id="del-encoded"),
    pytest.param("org/name/resolve/%ff/x", id="invalid-utf8"),
    pytest.param("org/name/resolve/main%5Cx/x", id="backslash"),
    # A regex `$` matches before a trailing newline: these are accepted today (bug).
    pytest.param("org/name/resolve/main%0A/x", id="trailing-newline-branch"),
    pytest.param("org/name/resolve/main%0a/x", id="trailing-newline-branch-lower"),
    pytest.param(f"org/name/resolve/{COMMIT}%0A/x", id="trailing-newline-commit"),
    pytest.param("org/name/resolve/refs%2Fpr%2F1%0A/x", id="trailing-newline-pr"),
    pytest.param("api/models/org/name/revision/main%0A", id="api-info-trailing-newline"),
    pytest.param("api/models/org/name/tree/main%0A", id="api-tree-trailing-newline"),
    pytest.param("api/models/org/name/revision/..", id="api-info-dotdot"),
    pytest.param("api/models/org/name/revision/refs%2Ffoo", id="api-info-refs-other"),
    pytest.param("api/models/org/name/revision/%ff", id="api-info-invalid-utf8"),
    pytest.param("api/models/org/name/revision/", id="api-info-empty"),
    pytest.param("api/models/org/name/tree/..", id="api-tree-dotdot"),
    pytest.param("api/models/org/name/paths-info/-x", id="api-paths-info-leading-dash"),
]

BAD_API_SHAPES = [
    pytest.param("api/models/org/name/revision", id="revision-missing"),
    pytest.param("api/models/org/name/revision/main/extra", id="revision-extra-segment"),
    pytest.param("api/models/org/name/tree", id="tree-missing-revision"),
    pytest.param("api/models/org/name/paths-info", id="paths-info-missing-revision"),
    pytest.param("api/models/org/name/paths-info/main/sub", id="paths-info-with-path"),
    pytest.param("api/models/org/name/tree/main/..%2Fsecret", id="tree-subpath-dotdot"),
    pytest.param("api/models/org/name/tree/main/a/../b", id="tree-subpath-dotdot-raw"),
    pytest.param("api/models/org/name/tree/main/%2e%2e", id="tree-subpath-dotdot-encoded"),
    pytest.param("api/models/org/name/tree/main/a%00", id="tree-subpath-nul"),
    pytest.param("api/models/org/name/tree/main/a%0a", id="tree-subpath-newline"),
    pytest.param("api/models/org/name/tree/main//", id="tree-subpath-slash"),
    pytest.param("api/models/org/name/tree/main/a//b", id="tree-subpath-empty-segment"),
    pytest.param("api/models/org/name/tree/main/%2Fetc", id="tree-subpath-absolute"),
    pytest.param("api/models/org/name/tree/main/a%5Cb", id="tree-subpath-backslash"),
    pytest.param("api/models/org/name/tree/main/%ff", id="tree-subpath-invalid-utf8"),
    pytest.param("api/models/org/name/tree/main/" + "d" * 1025, id="tree-subpath-too-long"),
]

BAD_RAW_PATHS = [
    pytest.param("org/name/resolve/main/" + "f" * 4096, id="raw-over-4096"),
    pytest.param("x" * 4097, id="raw-4097-not-hub"),
    pytest.param("api/models/" + "a" * 4090, id="raw-over-4096-api"),
    pytest.param("foo\x00/bar", id="nul-in-non-hub-path"),
    pytest.param("api/models/org/name\x00", id="nul-api"),
    pytest.param("api/models/org/name\n", id="newline-api-raw"),
    pytest.param("org\r\n/name/resolve/main/x", id="crlf-raw-repo"),
    pytest.param("org/name/resolve/main\x7f/x", id="del-raw-revision"),
]


@pytest.mark.parametrize(
    "raw_path", BAD_FILE_PATHS + BAD_REPO_IDS + BAD_REVISIONS + BAD_API_SHAPES + BAD_RAW_PATHS
)
def test_hostile_path_is_bad_request(raw_path):
    assert_bad_path(raw_path)


def test_raw_path_length_limit_is_exact():
    hub.check_request_path("x" * hub.MAX_RAW_PATH_LENGTH)
    with pytest.raises(hub.BadHubPath):
        hub.check_request_path("x" * (hub.MAX_RAW_PATH_LENGTH + 1))


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("a\x00", id="nul"),
        pytest.param("a\x1f", id="unit-separator"),
        pytest.param("a\x7f", id="del"),
        pytest.param("\r\n", id="crlf"),
    ],
)
def test_check_request_path_rejects_control_characters(path):
    with pytest.raises(hub.BadHubPath):
        hub.check_request_path(path)


@pytest.mark.parametrize(
    "path", ["", "a/b", "a b/\u00fc/%00/..", "pulp/content/hf/gpt2/resolve/main/x"]
)
def test_check_request_path_returns_acceptable_paths(path):
    # Only length and raw control characters are checked here; `%00` and `..` come later.
    assert hub.check_request_path(path) == path


def test_lone_surrogate_in_file_path_is_bad_request():
    # aiohttp's pure-Python parser (AIOHTTP_NO_EXTENSIONS) decodes the request line with
    # surrogateescape: a raw 0xff byte in the path reaches the handler as "\udcff".
    assert_bad_path("gpt2/resolve/main/\udcff")


def test_lone_surrogate_in_revision_is_bad_request():
    assert_bad_path("gpt2/resolve/ma\udcffin/x")


# Valid Hub paths for namespaced repos whose name is an endpoint word: read today as the
# unnamespaced repo `org` with a truncated endpoint, and rejected (bug).
@pytest.mark.parametrize(
    "raw_path, expected",
    [
        pytest.param("api/models/org/tree", api("org/tree", "info"), id="repo-named-tree"),
        pytest.param(
            "api/models/org/revision", api("org/revision", "info"), id="repo-named-revision"
        ),
        pytest.param(
            "api/datasets/org/paths-info",
            api("org/paths-info", "info", repo_type=DATASET),
            id="repo-named-paths-info",
        ),
    ],
)
def test_api_repo_named_like_an_endpoint(raw_path, expected):
    assert hub.parse_hub_path(raw_path) == expected


def test_unnamespaced_repo_at_revision_named_resolve():
    # `gpt2` at a branch called `resolve`: the namespaced reading (`gpt2/resolve`, revision
    # `config.json`, no file) is impossible, so this is the only valid reading.
    assert hub.parse_hub_path("gpt2/resolve/resolve/config.json") == resolve(
        "gpt2", "resolve", "config.json"
    )


# --- validators ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "revision, expected",
    [
        pytest.param(COMMIT, True, id="commit"),
        pytest.param("0" * 40, True, id="zeros"),
        pytest.param(COMMIT.upper(), False, id="uppercase"),
        pytest.param(COMMIT[:-1], False, id="39-chars"),
        pytest.param(COMMIT + "0", False, id="41-chars"),
        pytest.param(COMMIT[:-1] + "g", False, id="non-hex"),
        pytest.param(COMMIT + "\n", False, id="trailing-newline"),
        pytest.param(" " + COMMIT, False, id="leading-space"),
        pytest.param("main", False, id="branch"),
        pytest.param("", False, id="empty"),
        pytest.param(None, False, id="none"),
    ],
)
def test_is_commit(revision, expected):
    assert hub.is_commit(revision) is expected


@pytest.mark.parametrize(
    "repo_id",
    [
        "gpt2",
        "a",
        "org/name",
        "openai-community/gpt2",
        "Org_1/my.model-v2",
        "_x/_y_",
        "a.b-c_d/e.f-g_h",
        "n" * 96,
        "o" * 96 + "/" + "n" * 96,
    ],
)
def test_validate_repo_id_accepts(repo_id):
    assert hub.validate_repo_id(repo_id) == repo_id


@pytest.mark.parametrize(
    "repo_id",
    [
        pytest.param("", id="empty"),
        pytest.param("/", id="slash"),
        pytest.param("org/", id="empty-name"),
        pytest.param("/name", id="empty-namespace"),
        pytest.param("a/b/c", id="three-parts"),
        pytest.param("org/na me", id="space"),
        pytest.param("org/n\u00e4me", id="non-ascii"),
        pytest.param("org/na--me", id="double-dash"),
        pytest.param("org/na..me", id="double-dot"),
        pytest.param("..", id="dotdot"),
        pytest.param("-org/name", id="leading-dash"),
        pytest.param("org-/name", id="trailing-dash"),
        pytest.param(".org/name", id="leading-dot"),
        pytest.param("org/name.", id="trailing-dot"),
        pytest.param("org/" + "n" * 97, id="name-97"),
        pytest.param("o" * 97 + "/name", id="namespace-97"),
        pytest.param("n" * 97, id="unnamespaced-97"),
        pytest.param("org\\name", id="backslash"),
        pytest.param("org/na%2Fme", id="percent"),
        pytest.param("org/name\x00", id="nul"),
        pytest.param("org/name\n", id="trailing-newline"),
        pytest.param("gpt2\n", id="trailing-newline-unnamespaced"),
        # huggingface_hub's validate_repo_id also refuses a `.git` suffix.
        pytest.param("org/name.git", id="git-suffix"),
    ],
)
def test_validate_repo_id_rejects(repo_id):
    with pytest.raises(hub.BadHubPath):
        hub.validate_repo_id(repo_id)


def test_git_suffix_repo_path_is_bad_request():
    assert_bad_path("org/name.git/resolve/main/config.json")


@pytest.mark.parametrize(
    "revision",
    [
        "main",
        "v1.0",
        "v1.0.0-rc_1",
        "refs",
        "refs/pr/1",
        "refs/pr/123456789",
        "refs/convert/parquet",
        "refs/convert/duckdb",
        "refs/heads/main",
        "refs/heads/feature/x",
        "refs/tags/v1.0",
        "release/2024",
        COMMIT,
        COMMIT.upper(),
        "r" * 256,
    ],
)
def test_validate_revision_accepts(revision):
    assert hub.validate_revision(revision) == revision


@pytest.mark.parametrize(
    "revision",
    [
        pytest.param("", id="empty"),
        pytest.param("a..b", id="dotdot"),
        pytest.param("..", id="only-dotdot"),
        pytest.param("a//b", id="double-slash"),
        pytest.param("main/", id="trailing-slash"),
        pytest.param("main.", id="trailing-dot"),
        pytest.param("v1.lock", id="lock"),
        pytest.param("-main", id="leading-dash"),
        pytest.param("/main", id="leading-slash"),
        pytest.param(".main", id="leading-dot"),
        pytest.param("a/.b", id="slash-dot"),
        pytest.param("r" * 257, id="257-chars"),
        pytest.param("refs/foo", id="refs-other"),
        pytest.param("refs/", id="refs-slash"),
        pytest.param("refs/pr/0", id="pr-0"),
        pytest.param("refs/pr/01", id="pr-leading-zero"),
        pytest.param("refs/pr/abc", id="pr-abc"),
        pytest.param("refs/pr/", id="pr-empty"),
        pytest.param("refs/pr/1234567890", id="pr-10-digits"),
        pytest.param("refs/pr/1/x", id="pr-suffix"),
        pytest.param("refs/heads/", id="heads-empty"),
        pytest.param("@", id="lone-at"),
        pytest.param("ma in", id="space"),
        pytest.param("main~1", id="tilde"),
        pytest.param("main^", id="caret"),
        pytest.param("a:b", id="colon"),
        pytest.param("a\\b", id="backslash"),
        pytest.param("\u00fc", id="non-ascii"),
        pytest.param("main\x00", id="nul"),
        pytest.param("main\n", id="trailing-newline"),
        pytest.param(COMMIT + "\n", id="commit-trailing-newline"),
        pytest.param("refs/pr/1\n", id="pr-trailing-newline"),
    ],
)
def test_validate_revision_rejects(revision):
    with pytest.raises(hub.BadHubPath):
        hub.validate_revision(revision)


@pytest.mark.parametrize(
    "filename",
    [
        "config.json",
        "a/b/c.bin",
        "my file.txt",
        "\u00fc\u20ac.txt",
        "...",
        ".hidden",
        "a..b",
        "%2e%2e",
        "a?b#c;d=e",
        "f" * 1024,
        "\u00fc" * 512,
    ],
)
def test_validate_filename_accepts(filename):
    assert hub.validate_filename(filename) == filename


@pytest.mark.parametrize(
    "filename",
    [
        pytest.param("", id="empty"),
        pytest.param(".", id="dot"),
        pytest.param("..", id="dotdot"),
        pytest.param("a/../b", id="dotdot-middle"),
        pytest.param("./a", id="dot-first"),
        pytest.param("a/.", id="dot-last"),
        pytest.param("a//b", id="empty-segment"),
        pytest.param("a/", id="trailing-slash"),
        pytest.param("/a", id="leading-slash"),
        pytest.param("a\\b", id="backslash"),
        pytest.param("a\x00b", id="nul"),
        pytest.param("a\nb", id="newline"),
        pytest.param("a\n", id="trailing-newline"),
        pytest.param("a\x7fb", id="del"),
        pytest.param("a\x1bb", id="escape"),
        pytest.param("f" * 1025, id="1025-bytes"),
        pytest.param("\u00fc" * 513, id="1026-utf8-bytes"),
    ],
)
def test_validate_filename_rejects(filename):
    with pytest.raises(hub.BadHubPath):
        hub.validate_filename(filename)


@pytest.mark.parametrize(
    "revision, expected",
    [
        ("main", "main"),
        ("v1.0", "v1.0"),
        ("refs/pr/1", "refs%2Fpr%2F1"),
        ("refs/convert/parquet", "refs%2Fconvert%2Fparquet"),
        ("a b", "a%20b"),
        (COMMIT, COMMIT),
    ],
)
def test_quote_revision(revision, expected):
    assert hub.quote_revision(revision) == expected


@pytest.mark.parametrize(
    "etag, expected",
    [
        pytest.param('W/"abc"', "abc", id="weak"),
        pytest.param('"abc"', "abc", id="quoted"),
        pytest.param("abc", "abc", id="bare"),
        pytest.param(' "abc" ', "abc", id="whitespace"),
        pytest.param("W/abc", "abc", id="weak-unquoted"),
        pytest.param(f'"{SHA256}"', SHA256, id="sha256"),
        pytest.param('""', "", id="empty-quoted"),
        pytest.param(None, None, id="none"),
    ],
)
def test_normalize_etag(etag, expected):
    assert hub.normalize_etag(etag) == expected


def test_repo_ref_prefixes():
    assert repo("org/name").resolve_prefix == "org/name"
    assert repo("org/name", DATASET).resolve_prefix == "datasets/org/name"
    assert repo("org/name", SPACE).resolve_prefix == "spaces/org/name"
    assert repo("gpt2").api_prefix == "api/models/gpt2"
    assert repo("org/name", DATASET).api_prefix == "api/datasets/org/name"
    assert repo("org/name", SPACE).api_prefix == "api/spaces/org/name"


# --- upstream headers ----------------------------------------------------------------------

FACTS_CASES = [
    pytest.param(
        {"X-Repo-Commit": COMMIT, "ETag": f'"{SHA1}"', "Content-Length": "123"},
        hub.FileFacts(COMMIT, SHA1, 123),
        id="regular-file-200",
    ),
    pytest.param(
        {
            "X-Repo-Commit": COMMIT,
            "ETag": '"cdn-etag"',
            "X-Linked-Etag": f'"{SHA256}"',
            "X-Linked-Size": "5000000000",
            "Content-Length": "1100",
            "Location": "https://cas-bridge.xethub.hf.co/x",
        },
        hub.FileFacts(COMMIT, SHA256, 5000000000, SHA256),
        id="lfs-302",
    ),
    pytest.param(
        {"x-repo-commit": COMMIT, "Etag": f'W/"{SHA1}"', "content-length": "7"},
        hub.FileFacts(COMMIT, SHA1, 7),
        id="lowercase-names-weak-etag",
    ),
    pytest.param(
        {"X-REPO-COMMIT": COMMIT, "x-linked-etag": f'"{SHA256}"', "X-LINKED-SIZE": "9"},
        hub.FileFacts(COMMIT, SHA256, 9, SHA256),
        id="mixed-case-names-linked-only",
    ),
    pytest.param(
        {"X-Repo-Commit": COMMIT, "X-Linked-Etag": f'"{SHA1}"', "X-Linked-Size": "9"},
        hub.FileFacts(COMMIT, SHA1, 9),
        id="linked-etag-not-sha256",
    ),
    pytest.param(
        {"X-Repo-Commit": COMMIT, "ETag": '"e"', "X-Linked-Size": "", "Content-Length": "5"},
        hub.FileFacts(COMMIT, "e", 5),
        id="empty-linked-size-falls-back",
    ),
    pytest.param(
        {"X-Repo-Commit": COMMIT, "ETag": '"e"', "X-Linked-Etag": "", "Content-Length": "5"},
        hub.FileFacts(COMMIT, "e", 5),
        id="empty-linked-etag-falls-back",
    ),
    pytest.param(
        {"X-Repo-Commit": COMMIT, "ETag": '"e"', "Content-Length": "0"},
        hub.FileFacts(COMMIT, "e", 0),
        id="empty-file",
    ),
]


@pytest.mark.parametrize("headers, expected", FACTS_CASES)
def test_file_facts_from_headers(headers, expected):
    assert hub.file_facts_from_headers(headers) == expected


@pytest.mark.parametrize("headers, expected", FACTS_CASES)
def test_resolve_headers_round_trip(headers, expected):
    assert hub.file_facts_from_headers(hub.resolve_headers(expected, "f.bin")) == expected


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"ETag": '"e"', "Content-Length": "5"}, id="no-commit"),
        pytest.param(
            {"X-Repo-Commit": "", "ETag": '"e"', "Content-Length": "5"}, id="empty-commit"
        ),
        pytest.param({"X-Repo-Commit": "main", "ETag": '"e"', "Content-Length": "5"}, id="branch"),
        pytest.param(
            {"X-Repo-Commit": COMMIT.upper(), "ETag": '"e"', "Content-Length": "5"},
            id="uppercase-commit",
        ),
        pytest.param(
            {"X-Repo-Commit": COMMIT[:-1], "ETag": '"e"', "Content-Length": "5"},
            id="short-commit",
        ),
        pytest.param(
            {"X-Repo-Commit": COMMIT + "\n", "ETag": '"e"', "Content-Length": "5"},
            id="commit-trailing-newline",
        ),
        pytest.param({"X-Repo-Commit": COMMIT, "Content-Length": "5"}, id="no-etag"),
        pytest.param(
            {"X-Repo-Commit": COMMIT, "ETag": '""', "Content-Length": "5"}, id="empty-etag"
        ),
        pytest.param(
            {"X-Repo-Commit": COMMIT, "ETag": "W/", "Content-Length": "5"}, id="weak-only"
        ),
        pytest.param({"X-Repo-Commit": COMMIT, "ETag": '"e"'}, id="no-size"),
        pytest.param(
            {"X-Repo-Commit": COMMIT, "ETag": '"e"', "Content-Length": "abc"}, id="size-text"
        ),
        pytest.param(
            {"X-Repo-Commit": COMMIT, "ETag": '"e"', "Content-Length": "-1"}, id="size-negative"
        ),
        pytest.param(
            {"X-Repo-Commit": COMMIT, "ETag": '"e"', "Content-Length": "1.5"}, id="size-float"
        ),
        pytest.param(
            {"X-Repo-Commit": COMMIT, "ETag": '"e"', "X-Linked-Size": "x", "Content-Length": "5"},
            id="linked-size-text",
        ),
        # Content-Length is 1*DIGIT (RFC 9110); Python's int() also takes these (bug).
        pytest.param(
            {"X-Repo-Commit": COMMIT, "ETag": '"e"', "Content-Length": "1_000"},
            id="size-underscore",
        ),
        pytest.param(
            {"X-Repo-Commit": COMMIT, "ETag": '"e"', "Content-Length": "+5"}, id="size-plus"
        ),
        pytest.param(
            {"X-Repo-Commit": COMMIT, "ETag": '"e"', "Content-Length": "\u0661\u0662"},
            id="size-arabic-indic-digits",
        ),
        pytest.param({}, id="nothing"),
    ],
)
def test_file_facts_from_incomplete_headers_is_none(headers):
    assert hub.file_facts_from_headers(headers) is None


def test_resolve_headers_of_an_lfs_file_link_the_sha256():
    assert hub.resolve_headers(hub.FileFacts(COMMIT, SHA256, 42, SHA256), "w.bin") == {
        "X-Repo-Commit": COMMIT,
        "ETag": f'"{SHA256}"',
        "X-Linked-Etag": f'"{SHA256}"',
        "X-Linked-Size": "42",
        "Accept-Ranges": "bytes",
        "Content-Type": "application/octet-stream",
    }


def test_resolve_headers_of_a_regular_file_have_no_linked_etag():
    headers = hub.resolve_headers(hub.FileFacts(COMMIT, SHA1, 7), "config.json")
    assert headers["ETag"] == f'"{SHA1}"'
    assert "X-Linked-Etag" not in headers
    assert headers["Content-Type"] == "application/json"


def test_error_from_upstream_keeps_the_hub_answer():
    error = hub.error_from_upstream(
        404,
        {
            "X-Error-Code": "EntryNotFound",
            "X-Error-Message": "Entry not found",
            "X-Repo-Commit": COMMIT,
        },
    )
    assert type(error) is hub.HubError
    assert (error.status, error.code, error.message, error.commit) == (
        404,
        hub.ENTRY_NOT_FOUND,
        "Entry not found",
        COMMIT,
    )
    assert str(error) == "Entry not found"


def test_error_from_upstream_reads_lowercase_names():
    error = hub.error_from_upstream(
        401, {"x-error-code": "GatedRepo", "x-error-message": "gated", "x-repo-commit": COMMIT}
    )
    assert (error.status, error.code, error.message, error.commit) == (
        401,
        hub.GATED_REPO,
        "gated",
        COMMIT,
    )


@pytest.mark.parametrize(
    "commit",
    [
        pytest.param("main", id="branch"),
        pytest.param(COMMIT.upper(), id="uppercase"),
        pytest.param(COMMIT[:-1], id="short"),
        pytest.param(COMMIT + "\n", id="trailing-newline"),
        pytest.param("", id="empty"),
        pytest.param("../../x", id="path"),
    ],
)
def test_error_from_upstream_drops_an_invalid_commit(commit):
    error = hub.error_from_upstream(
        404, {"X-Error-Code": "RevisionNotFound", "X-Repo-Commit": commit}
    )
    assert not error.commit
    assert "X-Repo-Commit" not in error.headers()


def test_error_from_upstream_without_headers():
    error = hub.error_from_upstream(503, {})
    assert (error.status, error.code, error.commit) == (503, None, None)
    assert error.message == "Upstream answered 503."
    assert error.headers() == {"X-Error-Message": "Upstream answered 503."}


def test_hub_error_headers_and_body():
    error = hub.HubError(404, hub.REPO_NOT_FOUND, "Repository not found", commit=COMMIT)
    assert error.headers() == {
        "X-Error-Message": "Repository not found",
        "X-Error-Code": "RepoNotFound",
        "X-Repo-Commit": COMMIT,
    }
    assert isinstance(error.body(), bytes)
    assert json.loads(error.body()) == {"error": "Repository not found"}


def test_bad_hub_path_shape():
    error = hub.BadHubPath("no")
    assert isinstance(error, hub.HubError)
    assert (error.status, error.code, error.message, error.commit) == (
        400,
        "BadRequest",
        "no",
        None,
    )
    assert error.headers() == {"X-Error-Message": "no", "X-Error-Code": "BadRequest"}
    assert json.loads(error.body()) == {"error": "no"}


@pytest.mark.parametrize(
    "message, expected_header",
    [
        pytest.param("a\r\nSet-Cookie: x=1", "a  Set-Cookie: x=1", id="crlf-injection"),
        pytest.param("a\x00b\x7fc\td", "a b c d", id="control-chars"),
        pytest.param("f\u00fc\u20ac", "f\\xfc\\u20ac", id="non-ascii"),
        pytest.param("\udcff", "\\udcff", id="lone-surrogate"),
        pytest.param("x" * 600, "x" * 512, id="truncated"),
    ],
)
def test_hub_error_message_is_header_safe(message, expected_header):
    error = hub.HubError(500, None, message)
    headers = error.headers()
    assert headers == {"X-Error-Message": expected_header}
    assert json.loads(error.body()) == {"error": message}


def test_bad_hub_path_message_quoting_hostile_input_is_header_safe():
    with pytest.raises(hub.BadHubPath) as info:
        hub.parse_hub_path("org/name/resolve/ma%0D%0Ain%C3%BC/x")
    value = info.value.headers()["X-Error-Message"]
    assert value.isascii()
    assert not any(ord(char) < 32 or ord(char) == 127 for char in value)


# --- Link headers, URLs and listings -------------------------------------------------------

NEXT = "https://huggingface.co/api/models/x/tree/main?cursor=abc&recursive=true"


@pytest.mark.parametrize(
    "link, expected",
    [
        pytest.param(f'<{NEXT}>; rel="next"', NEXT, id="hub-format"),
        pytest.param(f'<https://h/prev>; rel="prev", <{NEXT}>; rel="next"', NEXT, id="after-prev"),
        pytest.param(f"<{NEXT}>; rel=next", NEXT, id="unquoted"),
        pytest.param(
            '<https://h/a?c=1,2>; rel="next", <https://h/z>; rel="last"',
            "https://h/a?c=1,2",
            id="comma-in-url",
        ),
        pytest.param('<https://h/x>; rel="xet-auth"', None, id="xet-only"),
        pytest.param('<https://h/x>; rel="prev"', None, id="prev-only"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="none"),
        pytest.param("garbage", None, id="garbage"),
        # Another relation that merely starts with "next" is not the next page (bug).
        pytest.param('<https://h/x>; rel="nextish"', None, id="rel-starting-with-next"),
    ],
)
def test_next_page_url(link, expected):
    assert hub.next_page_url(link) == expected


LOCAL = "http://pulp.example/pulp/content/hf"


@pytest.mark.parametrize(
    "url, upstream, local, expected",
    [
        pytest.param(NEXT, "https://huggingface.co", LOCAL, f"{LOCAL}/{NEXT[23:]}", id="hub"),
        pytest.param(
            "https://huggingface.co/api/x",
            "https://huggingface.co/",
            LOCAL + "/",
            f"{LOCAL}/api/x",
            id="trailing-slashes",
        ),
        pytest.param(
            "https://mirror.example/hf/api/x?cursor=1",
            "https://mirror.example/hf",
            LOCAL,
            f"{LOCAL}/api/x?cursor=1",
            id="upstream-path-prefix",
        ),
        pytest.param(
            "https://mirror.example/other/api/x",
            "https://mirror.example/hf",
            LOCAL,
            None,
            id="outside-upstream-prefix",
        ),
        pytest.param(
            "https://mirror.example/hfx/api/x",
            "https://mirror.example/hf",
            LOCAL,
            None,
            id="prefix-is-not-a-string-prefix",
        ),
        pytest.param(
            "https://evil.example/api/x", "https://huggingface.co", LOCAL, None, id="other-host"
        ),
        pytest.param(
            "http://huggingface.co/api/x", "https://huggingface.co", LOCAL, None, id="other-scheme"
        ),
        pytest.param(
            "https://huggingface.co:8443/api/x",
            "https://huggingface.co",
            LOCAL,
            None,
            id="other-port",
        ),
        pytest.param(
            "//evil.example/api/x", "https://huggingface.co", LOCAL, None, id="scheme-relative"
        ),
        pytest.param(
            "/api/x?cursor=a%2Cb",
            "https://huggingface.co",
            LOCAL,
            f"{LOCAL}/api/x?cursor=a%2Cb",
            id="relative",
        ),
        pytest.param(
            "/hf/api/x", "https://mirror.example/hf", LOCAL, f"{LOCAL}/api/x", id="relative-prefix"
        ),
        pytest.param(
            "/api/x", "https://mirror.example/hf", LOCAL, None, id="relative-outside-prefix"
        ),
        pytest.param(
            "https://huggingface.co/api/x#frag",
            "https://huggingface.co",
            LOCAL,
            f"{LOCAL}/api/x",
            id="fragment-dropped",
        ),
        pytest.param("javascript:alert(1)", "https://huggingface.co", LOCAL, None, id="js"),
    ],
)
def test_rebase_url(url, upstream, local, expected):
    assert hub.rebase_url(url, upstream, local) == expected


def test_strip_xet_fields():
    entries = [
        {"type": "file", "path": "a", "oid": "1", "xetHash": "h", "lfs": {"oid": SHA256}},
        {"type": "directory", "path": "d", "oid": "2"},
        "not-a-dict",
    ]
    result = hub.strip_xet_fields(entries)
    assert result is entries
    assert entries == [
        {"type": "file", "path": "a", "oid": "1", "lfs": {"oid": SHA256}},
        {"type": "directory", "path": "d", "oid": "2"},
        "not-a-dict",
    ]


def test_strip_xet_fields_of_an_info_answer_at_any_depth():
    info = {
        "sha": COMMIT,
        "xetEnabled": True,
        "siblings": [
            {"rfilename": "w.bin", "xetHash": "h", "lfs": {"sha256": SHA256, "xetHash": "h"}},
            {"rfilename": "config.json"},
        ],
    }
    assert hub.strip_xet_fields(info) is info
    assert info == {
        "sha": COMMIT,
        "siblings": [
            {"rfilename": "w.bin", "lfs": {"sha256": SHA256}},
            {"rfilename": "config.json"},
        ],
    }


@pytest.mark.parametrize("value", [None, "text", [], 3, {"xet": "kept"}])
def test_strip_xet_fields_leaves_other_values_alone(value):
    before = json.dumps(value)
    assert hub.strip_xet_fields(value) is value
    assert json.dumps(value) == before


@pytest.mark.parametrize(
    "raw, revision, filename",
    [
        ("org/m/resolve/refs/pr/1/config.json", "refs/pr/1", "config.json"),
        ("org/m/resolve/refs/convert/parquet/a/b.parquet", "refs/convert/parquet", "a/b.parquet"),
        ("org/m/resolve/refs%2Fpr%2F1/config.json", "refs/pr/1", "config.json"),
        ("org/m/resolve/refs/config.json", "refs", "config.json"),
    ],
    ids=["raw-pr-ref", "raw-convert-ref", "encoded-pr-ref", "branch-named-refs"],
)
def test_unencoded_refs_in_resolve_paths(raw, revision, filename):
    request = hub.parse_hub_path(raw)
    assert (request.revision, request.filename) == (revision, filename)


@pytest.mark.parametrize(
    "entry, expected",
    [
        pytest.param(
            {"type": "file", "path": "a.json", "oid": SHA1, "size": 12},
            hub.FileFacts(COMMIT, SHA1, 12, None),
            id="regular-file",
        ),
        pytest.param(
            {
                "type": "file",
                "path": "m.bin",
                "oid": SHA1,
                "size": 99,
                "lfs": {"oid": SHA256, "size": 99, "pointerSize": 134},
                "xetHash": "x" * 64,
            },
            hub.FileFacts(COMMIT, SHA256, 99, SHA256),
            id="lfs-file",
        ),
        pytest.param({"type": "directory", "path": "d", "oid": SHA1}, None, id="directory"),
        pytest.param({"type": "file", "path": "a", "oid": "zz", "size": 1}, None, id="bad-oid"),
        pytest.param({"type": "file", "path": "a", "oid": SHA1, "size": -1}, None, id="neg-size"),
        pytest.param({"type": "file", "path": "a", "oid": SHA1, "size": "1"}, None, id="str-size"),
        pytest.param(
            {"type": "file", "path": "a", "oid": SHA1, "size": 1, "lfs": {"oid": "nope"}},
            None,
            id="bad-lfs-oid",
        ),
        pytest.param("not a dict", None, id="not-a-dict"),
    ],
)
def test_file_facts_from_listing_entry(entry, expected):
    assert hub.file_facts_from_entry(entry, COMMIT) == expected
    assert hub.file_facts_from_entry(entry, "main") is None


@pytest.mark.parametrize("revision", ["v1.0+cu118", "release@2024", "a=b,c", "user/feature"])
def test_git_ref_names_with_punctuation_are_valid(revision):
    assert hub.validate_revision(revision) == revision
    request = hub.parse_hub_path(f"org/m/resolve/{hub.quote_revision(revision)}/config.json")
    assert request.revision == revision


# --- ranges ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "requested, size, expected",
    [
        pytest.param((None, None), 100, (0, 100, False), id="no-range"),
        pytest.param((10, 20), 100, (10, 20, True), id="middle"),
        pytest.param((90, None), 100, (90, 100, True), id="open-ended"),
        pytest.param((10, 500), 100, (10, 100, True), id="past-the-end-is-cut"),
        pytest.param((-10, None), 100, (90, 100, True), id="suffix"),
        pytest.param((-500, None), 100, (0, 100, True), id="suffix-longer-than-file"),
        pytest.param((None, None), 0, (0, 0, False), id="empty-file"),
        pytest.param((0, None), 0, (0, 0, False), id="a-range-of-an-empty-file-is-ignored"),
    ],
)
def test_byte_span(requested, size, expected):
    assert hub.byte_span(requested, size) == expected


@pytest.mark.parametrize(
    "requested, size",
    [
        pytest.param(None, 100, id="unparsable-header"),
        pytest.param((100, None), 100, id="starts-at-the-end"),
        pytest.param((200, 300), 100, id="starts-past-the-end"),
    ],
)
def test_byte_span_unsatisfiable(requested, size):
    assert hub.byte_span(requested, size) is None


# --- API request rules -------------------------------------------------------------------------


def test_allowed_query_keeps_only_what_the_endpoint_takes_sorted():
    items = [("recursive", "true"), ("token", "secret"), ("expand", "false"), ("cursor", "c")]
    assert hub.allowed_query("tree", items) == (
        ("cursor", "c"),
        ("expand", "false"),
        ("recursive", "true"),
    )


def test_allowed_query_of_paths_info_and_unknown_endpoints_is_empty():
    assert hub.allowed_query("paths-info", [("expand", "true")]) == ()
    assert hub.allowed_query("commits", [("p", "1")]) == ()


def test_paths_info_form_is_normalized():
    assert hub.paths_info_form(["b.txt", "a", "b.txt"], "True") == (
        ("paths", "a"),
        ("paths", "b.txt"),
        ("expand", "true"),
    )
    assert hub.paths_info_form("one.txt", False) == (("paths", "one.txt"), ("expand", "false"))


@pytest.mark.parametrize(
    "paths",
    [
        pytest.param([], id="none"),
        pytest.param(["p"] * 1001, id="too-many"),
        pytest.param([1], id="not-a-string"),
        pytest.param(["../etc/passwd"], id="traversal"),
        pytest.param({"paths": "x"}, id="an-object"),
    ],
)
def test_paths_info_form_refuses_bad_paths_with_400(paths):
    with pytest.raises(hub.BadHubPath) as info:
        hub.paths_info_form(paths, False)
    assert info.value.status == 400


@pytest.mark.parametrize(
    "headers, plain",
    [
        ({}, True),
        ({"Accept-Encoding": "gzip", "Authorization": "Bearer x"}, True),
        ({"Range": "bytes=0-9"}, False),
        ({"range": "bytes=-5"}, False),
        ({"If-None-Match": '"abc"'}, False),
        ({"If-Modified-Since": "Wed, 02 Dec 2026 10:00:00 GMT"}, False),
        ({"If-Match": "*"}, False),
        ({"If-Unmodified-Since": "Wed, 02 Dec 2026 10:00:00 GMT"}, False),
        ({"If-Range": '"abc"', "Range": "bytes=0-9"}, False),
    ],
)
def test_a_plain_get_asks_for_the_whole_file_unconditionally(headers, plain):
    assert hub.is_plain_get(CIMultiDict(headers)) is plain


def test_short_paths_are_parsed_once():
    hub.parse_hub_path.cache_clear()
    first = hub.parse_hub_path("org/model/resolve/main/config.json")
    assert hub.parse_hub_path("org/model/resolve/main/config.json") is first
    assert hub.parse_hub_path.cache_info().currsize == 1


@pytest.mark.parametrize(
    "path",
    [
        "org/model/resolve/main/" + "x" * hub.MEMO_PATH_LENGTH,
        "org/model/resolve/main/" + "/".join(["d"] * hub.MEMO_PATH_SEGMENTS) + "/f.bin",
    ],
)
def test_long_or_deep_paths_are_parsed_each_time_and_not_remembered(path):
    # Hostile clients could otherwise fill memory with distinct long paths.
    hub.parse_hub_path.cache_clear()
    hub.base_path_candidates.cache_clear()
    assert hub.parse_hub_path(path) == hub.parse_hub_path(path)
    assert hub.base_path_candidates(path)[-1] == "org"
    assert hub.parse_hub_path.cache_info().currsize == 0
    assert hub.base_path_candidates.cache_info().currsize == 0
