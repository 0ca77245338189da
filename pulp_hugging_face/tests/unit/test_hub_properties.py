"""Property tests of `pulp_hugging_face/app/hub.py`: the parser never crashes, never accepts
what the validators refuse, and round-trips everything it accepts."""

import json
import string

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pulp_hugging_face.app import hub

COMMIT = "0123456789abcdef0123456789abcdef01234567"
PROPERTY = settings(
    max_examples=400,
    deadline=None,
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
CONTROL = {chr(code) for code in range(32)} | {"\x7f"}


def parse(raw_path):
    """parse_hub_path, with any exception other than HubError failing the test."""
    try:
        return hub.parse_hub_path(raw_path)
    except hub.HubError as error:
        assert error.status == 400 and error.code == hub.BAD_REQUEST, error
        return None


def encodable(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _valid(validator, value):
    try:
        validator(value)
    except hub.BadHubPath:
        return False
    return True


def check_accepted(result):
    """Everything the parser accepts is valid by the validators and round-trips."""
    if result is None:
        return
    repo = result.repo
    assert repo.repo_type in hub.REPO_TYPES
    assert hub.validate_repo_id(repo.repo_id) == repo.repo_id
    assert not CONTROL & set(repo.repo_id)
    assert "%" not in repo.repo_id
    if isinstance(result, hub.ResolveRequest):
        for value in (result.revision, result.filename):
            assert not CONTROL & set(value), value
        assert hub.validate_revision(result.revision) == result.revision
        assert hub.validate_filename(result.filename) == result.filename
        assert ".." not in result.filename.split("/")
        assert hub.parse_hub_path(result.path()) == result
        at_commit = hub.parse_hub_path(result.path(revision=COMMIT))
        assert at_commit == hub.ResolveRequest(repo, COMMIT, result.filename)
        return
    assert isinstance(result, hub.ApiRequest)
    assert result.endpoint in ("info", "tree", "paths-info", "refs", "unsupported")
    if result.revision is not None:
        assert not CONTROL & set(result.revision), result.revision
        assert hub.validate_revision(result.revision) == result.revision
    if result.subpath:
        assert not CONTROL & set(result.subpath)
        assert hub.validate_filename(result.subpath) == result.subpath
        assert result.endpoint == "tree"
    if result.endpoint in ("tree", "paths-info"):
        assert result.revision is not None
    if result.endpoint != "unsupported":  # never stored or forwarded: path() is lossy
        assert hub.parse_hub_path(result.path()) == result


# --- arbitrary input never crashes ---------------------------------------------------------


@PROPERTY
@given(st.text().filter(encodable))
def test_parse_arbitrary_text(raw_path):
    check_accepted(parse(raw_path))


ATOMS = [
    "..", ".", "%2e%2e", "%2E", "%2F", "%2f", "%00", "%0a", "%0A", "%0d", "%7f", "%ff", "%",
    "%5C", "\\", "%C3%BC", "%E2%80%AE", "%ED%A0%80", "%C0%AE", "%20", "?", "#", "~", "\u00fc",
    "a", "b", "-", "_", "", "\n", "\x00", "\t", "resolve", "api", "models", "datasets", "spaces",
    "revision", "tree", "paths-info", "refs", "pr", "1", "0", "main", "org", "gpt2", ".lock",
    "refs%2Fpr%2F1", "refs%2Fconvert%2Fparquet", COMMIT,
]  # fmt: skip
SEGMENT = st.lists(st.sampled_from(ATOMS), max_size=3).map("".join)
HOSTILE_PATH = st.lists(SEGMENT, max_size=9).map("/".join)


@PROPERTY
@given(HOSTILE_PATH)
def test_parse_hostile_segments(raw_path):
    check_accepted(parse(raw_path))


SHAPED_PREFIX = st.sampled_from(
    [
        "gpt2/resolve/",
        "org/name/resolve/",
        "org/name/resolve/main/",
        "datasets/org/name/resolve/refs%2Fconvert%2Fparquet/",
        "spaces/org/app/resolve/",
        "api/models/org/name/",
        "api/models/gpt2/",
        "api/models/org/name/tree/main/",
        "api/datasets/org/name/tree/",
        "api/models/org/name/revision/",
        "api/spaces/org/app/paths-info/",
    ]
)


@PROPERTY
@given(SHAPED_PREFIX, st.lists(st.one_of(SEGMENT, st.text(max_size=6)), max_size=5))
def test_parse_hub_shaped_paths_with_hostile_tails(prefix, tail):
    raw_path = prefix + "/".join(tail)
    assume(encodable(raw_path))
    check_accepted(parse(raw_path))


# One hostile component at a time, inside an otherwise valid path, so that each validator
# sees many near-valid values (e.g. `main%0a`, `refs%2Fpr%2F0`, `a%2F..%2Fb`).
VALID_PIECES = ["main", "a", "v1", "refs/", "pr/", "heads/", "convert/", "1", "-", "_", ".", COMMIT]
HOSTILE_PIECES = [
    "0", "..", "/", "~", "%2F", "%2f", "%2e", "%2E%2E", "%0a", "%0A", "%0d", "%00", "%09", "%7f",
    "%1b", "%ff", "%", "%20", "%5C", "\\", ".lock", "\u00fc", "%C3%BC", "%C0%AE", "%ED%A0%80",
]  # fmt: skip
PIECE = st.one_of(st.sampled_from(VALID_PIECES), st.sampled_from(HOSTILE_PIECES))
COMPONENT = st.lists(PIECE, min_size=1, max_size=5).map("".join)
TEMPLATES = [
    "org/name/resolve/{}/config.json",
    "gpt2/resolve/{}/config.json",
    "datasets/org/name/resolve/main/{}",
    "org/name/resolve/main/dir/{}",
    "{}/resolve/main/config.json",
    "org/{}/resolve/main/config.json",
    "api/models/org/name/revision/{}",
    "api/models/gpt2/tree/{}",
    "api/datasets/org/name/tree/main/{}",
    "api/spaces/org/app/paths-info/{}",
    "api/models/{}",
    "api/models/org/{}/tree/main",
]


@settings(PROPERTY, max_examples=1000)
@given(st.sampled_from(TEMPLATES), COMPONENT)
def test_parse_one_hostile_component(template, component):
    check_accepted(parse(template.format(component)))


# --- validators accept only clean values -----------------------------------------------------

NEAR_VALID = string.ascii_letters[:6] + string.digits[:4] + "-._/\n\r\t\x00\x7f "


@PROPERTY
@given(st.text(NEAR_VALID, max_size=12), st.sampled_from(["", "refs/pr/1", "refs/heads/", "v"]))
def test_validate_revision_never_accepts_control_characters(text, prefix):
    revision = prefix + text
    if _valid(hub.validate_revision, revision):
        assert not CONTROL & set(revision), repr(revision)
        assert " " not in revision


@PROPERTY
@given(st.text(NEAR_VALID, max_size=12), st.sampled_from(["", "org/", "gpt"]))
def test_validate_repo_id_never_accepts_control_characters(text, prefix):
    repo_id = prefix + text
    if _valid(hub.validate_repo_id, repo_id):
        assert not CONTROL & set(repo_id), repr(repo_id)


@PROPERTY
@given(
    st.text("0123456789abcdef", min_size=39, max_size=41),
    st.sampled_from(["", "\n", " ", "g", "A", "\x00"]),
)
def test_is_commit_means_exactly_40_lowercase_hex(hex_text, suffix):
    text = hex_text + suffix
    assert hub.is_commit(text) == (len(text) == 40 and set(text) <= set("0123456789abcdef"))


# --- valid triples round-trip --------------------------------------------------------------

WORD = st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=8)


@st.composite
def repo_parts(draw):
    words = draw(st.lists(WORD, min_size=1, max_size=4))
    separators = draw(st.lists(st.sampled_from("-._"), min_size=len(words), max_size=len(words)))
    part = words[0] + "".join(sep + word for sep, word in zip(separators, words[1:]))
    return part[: hub.MAX_REPO_NAME_LENGTH].rstrip("-.")


@st.composite
def repo_refs(draw):
    repo_type = draw(st.sampled_from(hub.REPO_TYPES))
    parts = draw(st.lists(repo_parts(), min_size=1, max_size=2))
    repo_id = "/".join(parts)
    assume(_valid(hub.validate_repo_id, repo_id))
    if repo_type == hub.MODEL:
        # A model repo cannot start with a repo-type prefix or "api": the Hub's URLs would be
        # read as a dataset, a space or an API call (the Hub reserves these names).
        assume(parts[0] not in ("datasets", "spaces", "api"))
    return hub.RepoRef(repo_type, repo_id)


@st.composite
def revisions(draw):
    kind = draw(st.sampled_from(["known", "commit", "pr", "prefixed", "branch"]))
    if kind == "known":
        return draw(st.sampled_from(["main", "v1.0", "refs/convert/parquet", "refs/pr/1"]))
    if kind == "commit":
        return draw(st.text(alphabet="0123456789abcdef", min_size=40, max_size=40))
    if kind == "pr":
        return f"refs/pr/{draw(st.integers(min_value=1, max_value=999_999_999))}"
    branch = "/".join(draw(st.lists(repo_parts(), min_size=1, max_size=3)))
    if kind == "prefixed":
        branch = draw(st.sampled_from(["refs/heads/", "refs/tags/", "refs/convert/"])) + branch
    assume(_valid(hub.validate_revision, branch))
    return branch


FILE_CHARS = st.characters(
    blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"
)  # C0 and C1 controls, surrogates, slashes and backslashes excluded
FILE_SEGMENT = st.text(FILE_CHARS, min_size=1, max_size=12).filter(lambda s: s not in (".", ".."))
FILENAMES = (
    st.lists(FILE_SEGMENT, min_size=1, max_size=5)
    .map("/".join)
    .filter(lambda name: len(name.encode()) <= hub.MAX_FILENAME_LENGTH)
)


@PROPERTY
@given(repo_refs(), revisions(), FILENAMES)
def test_valid_resolve_triples_round_trip(repo, revision, filename):
    if "/" not in repo.repo_id:
        # `name/resolve/resolve/...` reads as the namespaced repo `name/resolve`
        # (see test_unnamespaced_repo_at_revision_named_resolve in test_hub.py).
        assume(revision != "resolve")
    request = hub.ResolveRequest(repo, revision, filename)
    path = request.path()
    assert not CONTROL & set(path)
    assert path.isascii()
    assert hub.parse_hub_path(path) == request
    assert hub.parse_hub_path(path + "?download=true") == request
    assert hub.parse_hub_path(request.path(revision=COMMIT)) == hub.ResolveRequest(
        repo, COMMIT, filename
    )


ENDPOINT_WORDS = ("revision", "tree", "paths-info", "refs", "xet-read-token", "commits")


@PROPERTY
@given(repo_refs(), revisions(), st.one_of(st.just(""), FILENAMES))
def test_valid_api_requests_round_trip(repo, revision, subpath):
    if "/" in repo.repo_id:
        # A namespaced repo named like an endpoint (`org/tree`) is read as `org` + endpoint
        # (see test_api_repo_named_like_an_endpoint in test_hub.py).
        assume(repo.repo_id.split("/")[1] not in ENDPOINT_WORDS)
    requests = [
        hub.ApiRequest(repo, "info"),
        hub.ApiRequest(repo, "info", revision),
        hub.ApiRequest(repo, "tree", revision, subpath),
        hub.ApiRequest(repo, "paths-info", revision),
        hub.ApiRequest(repo, "refs"),
    ]
    for request in requests:
        path = request.path()
        assert path.isascii()
        assert hub.parse_hub_path(path) == request, path


# --- headers, errors, links ----------------------------------------------------------------


@PROPERTY
@given(st.text(), st.sampled_from([None, "", hub.REPO_NOT_FOUND, hub.ENTRY_NOT_FOUND]))
def test_hub_error_is_always_header_safe(message, code):
    error = hub.HubError(404, code, message, commit=COMMIT)
    headers = error.headers()
    for value in headers.values():
        assert value.isascii()
        assert not CONTROL & set(value)
        assert len(value) <= 512
    assert ("X-Error-Code" in headers) == bool(code)
    assert json.loads(error.body()) == {"error": message}


HEX = "0123456789abcdef"


@PROPERTY
@given(
    st.text(HEX, min_size=40, max_size=40),
    st.one_of(st.text(HEX, min_size=40, max_size=40), st.text(HEX, min_size=64, max_size=64)),
    st.integers(min_value=0, max_value=hub.MAX_FILE_SIZE),
    st.booleans(),
)
def test_file_facts_round_trip_through_headers(commit, etag, size, weak):
    lfs = etag if len(etag) == 64 else None
    facts = hub.FileFacts(commit, etag, size, lfs)
    headers = hub.resolve_headers(facts, "file.bin")
    assert hub.file_facts_from_headers(headers) == facts
    assert hub.normalize_etag(("W/" if weak else "") + headers["ETag"]) == etag
    lowered = {name.lower(): value for name, value in headers.items()}
    assert hub.file_facts_from_headers(lowered) == facts


@PROPERTY
@given(st.dictionaries(st.sampled_from(["X-Repo-Commit", "ETag", "X-Linked-Etag", "X-Linked-Size",
                                        "Content-Length", "x-repo-commit", "etag"]),
                       st.text(max_size=70)))  # fmt: skip
def test_file_facts_from_arbitrary_headers(headers):
    facts = hub.file_facts_from_headers(headers)
    if facts is not None:
        assert hub.is_commit(facts.commit)
        assert facts.etag
        assert isinstance(facts.size, int) and facts.size >= 0
        assert facts.lfs_sha256 in (None, facts.etag)


URL_CHARS = string.ascii_letters + string.digits + "/,.;_-~%"
RELS = ["next", "prev", "last", "xet-auth", "xet-reconstruction-info"]


@PROPERTY
@given(
    st.lists(
        st.tuples(st.text(URL_CHARS, max_size=20), st.sampled_from(RELS), st.booleans()),
        max_size=5,
    )
)
def test_link_header_handling(entries):
    rendered = [
        f"<https://huggingface.co/{path}?cursor=a,b>; rel=" + (rel if bare else f'"{rel}"')
        for path, rel, bare in entries
    ]
    header = ", ".join(rendered)
    nexts = [
        f"https://huggingface.co/{path}?cursor=a,b" for path, rel, _ in entries if rel == "next"
    ]
    assert hub.next_page_url(header) == (nexts[0] if nexts else None)


@PROPERTY
@given(st.text(URL_CHARS + "?=&", max_size=40), st.sampled_from(["", "/hf", "/a/b"]))
def test_rebase_url_moves_upstream_urls_under_the_local_base(rest, prefix):
    upstream = f"https://hub.example{prefix}"
    local = "http://pulp.example/pulp/content/hf"
    rest = rest.lstrip("/")
    rebased = hub.rebase_url(f"{upstream}/{rest}", upstream, local)
    assert rebased is not None and rebased.startswith(local + "/")
    assert hub.rebase_url(f"https://evil.example{prefix}/{rest}", upstream, local) is None


# --- hostile upstream answers: a usable value or an HF-style 502, never another exception ----

FACT_HEADERS = ["X-Repo-Commit", "ETag", "X-Linked-Etag", "X-Linked-Size", "Content-Length"]
HOSTILE_TEXT = st.one_of(
    st.text(max_size=300),
    st.text(HEX, min_size=40, max_size=40),
    st.integers(min_value=0, max_value=2**80).map(str),
    st.just(COMMIT),
)
JSON_KEYS = ["sha", "type", "oid", "size", "lfs", "path", "xetHash", "x"]
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | HOSTILE_TEXT,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(JSON_KEYS), children, max_size=5)
    ),
    max_leaves=20,
)


def assert_refusal(error):
    assert error.status == 502 and error.code == hub.UPSTREAM_UNAVAILABLE
    for value in error.headers().values():
        assert value.isascii() and not CONTROL & set(value)


@PROPERTY
@given(st.dictionaries(st.sampled_from(FACT_HEADERS), HOSTILE_TEXT))
def test_hostile_resolve_headers_give_usable_facts_or_a_502(headers):
    try:
        facts = hub.file_facts_or_error(headers)
    except hub.HubError as error:
        assert_refusal(error)
        return
    assert hub.is_commit(facts.commit)
    assert 1 <= len(facts.etag) <= hub.MAX_ETAG_LENGTH and facts.etag.isascii()
    assert not set(facts.etag) & set('/\\" ') and not CONTROL & set(facts.etag)
    assert 0 <= facts.size <= hub.MAX_FILE_SIZE
    for value in hub.resolve_headers(facts, "f").values():
        assert value.isascii()


@PROPERTY
@given(st.binary(max_size=200) | JSON_VALUES.map(lambda v: json.dumps(v).encode()))
def test_hostile_info_answers_give_a_commit_or_a_502(body):
    try:
        commit = hub.info_commit(hub.parse_json_answer(body))
    except hub.HubError as error:
        assert_refusal(error)
        return
    assert hub.is_commit(commit)


@PROPERTY
@given(JSON_VALUES)
def test_hostile_listings_give_entries_or_a_502(value):
    try:
        entries = hub.listing_entries(value)
    except hub.HubError as error:
        assert_refusal(error)
        return
    for entry in entries:
        facts = hub.file_facts_from_entry(entry, COMMIT)
        if facts is not None:
            assert 0 <= facts.size <= hub.MAX_FILE_SIZE
            assert hub.SHA256_RE.fullmatch(facts.etag) or hub.GIT_SHA1_RE.fullmatch(facts.etag)
    assert hub.strip_xet_fields(entries) is entries


@PROPERTY
@given(
    st.integers(min_value=400, max_value=499),
    st.dictionaries(st.sampled_from(["X-Error-Code", "X-Error-Message", "X-Repo-Commit"]),
                    HOSTILE_TEXT),
)  # fmt: skip
def test_hostile_upstream_errors_give_safe_headers(status, headers):
    error = hub.error_from_upstream(status, headers)
    assert error.status == status
    assert error.commit is None or hub.is_commit(error.commit)
    for value in error.headers().values():
        assert value.isascii() and not CONTROL & set(value) and len(value) <= 512
