"""The Hugging Face Hub protocol, as a pull-through cache needs it.

Pure functions and value types only: no Django, no I/O. This is the one place that knows the
shape of Hub URLs, which repo ids, revisions and file names are acceptable, which headers a
client needs and which must never be passed on.
"""

import functools
import json
import mimetypes
import re
from dataclasses import dataclass
from fnmatch import fnmatch
from urllib.parse import quote, unquote, urlsplit

MODEL, DATASET, SPACE = "model", "dataset", "space"
REPO_TYPES = (MODEL, DATASET, SPACE)

# resolve URLs use a path prefix, API URLs a plural collection name
RESOLVE_PREFIXES = {MODEL: "", DATASET: "datasets/", SPACE: "spaces/"}
API_COLLECTIONS = {MODEL: "models", DATASET: "datasets", SPACE: "spaces"}
_PREFIX_TO_TYPE = {"datasets": DATASET, "spaces": SPACE}
_COLLECTION_TO_TYPE = {v: k for k, v in API_COLLECTIONS.items()}

MAX_REPO_NAME_LENGTH = 96
MAX_REVISION_LENGTH = 256
MAX_FILENAME_LENGTH = 1024
MAX_RAW_PATH_LENGTH = 4096

COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
# huggingface_hub's own rule (utils/_validators.py), plus the length limit
_REPO_PART_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
# Git ref names allow more, but never whitespace, ~ ^ : ? * [ \\ { } or control characters.
_REVISION_RE = re.compile(r"^[A-Za-z0-9._\-/+@=,]+$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_PR_RE = re.compile(r"^refs/pr/[1-9][0-9]{0,8}$")

# Error codes the client maps to its exception types (huggingface_hub utils/_http.py).
REPO_NOT_FOUND = "RepoNotFound"
REVISION_NOT_FOUND = "RevisionNotFound"
ENTRY_NOT_FOUND = "EntryNotFound"
GATED_REPO = "GatedRepo"
BAD_REQUEST = "BadRequest"
UPSTREAM_UNAVAILABLE = "UpstreamUnavailable"


class HubError(Exception):
    """An answer in the Hub's error shape: status, `X-Error-Code`, `X-Error-Message`."""

    def __init__(self, status, code, message, commit=None, retry_after=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.commit = commit
        self.retry_after = retry_after

    def headers(self):
        headers = {"X-Error-Message": safe_text(self.message)}
        if self.retry_after and self.retry_after.isascii() and self.retry_after.isdigit():
            headers["Retry-After"] = self.retry_after
        if self.code:
            headers["X-Error-Code"] = self.code
        if self.commit:
            headers["X-Repo-Commit"] = self.commit
        return headers

    def body(self):
        return json.dumps({"error": self.message}).encode()


class BadHubPath(HubError):
    """A request path that is not a valid Hub path: answered with 400 and never sent upstream."""

    def __init__(self, message):
        super().__init__(400, BAD_REQUEST, message)


def safe_text(text):
    """Text fit for a header or a database row: ASCII, no control characters, 512 at most."""
    return _CONTROL_RE.sub(" ", text).encode("ascii", "backslashreplace").decode()[:512]


@dataclass(frozen=True)
class RepoRef:
    repo_type: str
    repo_id: str

    @property
    def resolve_prefix(self):
        return RESOLVE_PREFIXES[self.repo_type] + self.repo_id

    @property
    def api_prefix(self):
        return f"api/{API_COLLECTIONS[self.repo_type]}/{self.repo_id}"


@dataclass(frozen=True)
class ResolveRequest:
    """`{prefix}{repo_id}/resolve/{revision}/{filename}`: one file at one revision."""

    repo: RepoRef
    revision: str
    filename: str

    def path(self, revision=None):
        """The percent-encoded Hub path, optionally at another revision (e.g. the commit)."""
        return resolve_path(self.repo, revision or self.revision, self.filename)


@dataclass(frozen=True)
class ApiRequest:
    """`api/{type}s/{repo_id}[/{endpoint}[/{revision}[/{subpath}]]]`.

    endpoint is "info" (the repo info, at `revision` when given), "tree", "paths-info",
    "refs", or another (passed on live, never stored).
    """

    repo: RepoRef
    endpoint: str
    revision: str | None = None
    subpath: str = ""

    def path(self, revision=None):
        revision = revision or self.revision
        base = self.repo.api_prefix
        if self.endpoint == "info":
            return base if revision is None else f"{base}/revision/{quote_revision(revision)}"
        if self.endpoint in ("tree", "paths-info"):
            path = f"{base}/{self.endpoint}/{quote_revision(revision)}"
            if self.subpath:
                path += "/" + quote(self.subpath, safe="")
            return path
        return f"{base}/{self.endpoint}"


def quote_revision(revision):
    return quote(revision, safe="")


def resolve_path(repo, revision, filename):
    return f"{repo.resolve_prefix}/resolve/{quote_revision(revision)}/{quote(filename)}"


def is_commit(revision):
    return isinstance(revision, str) and COMMIT_RE.fullmatch(revision) is not None


def validate_repo_id(repo_id):
    parts = repo_id.split("/")
    if not 1 <= len(parts) <= 2:
        raise BadHubPath(f"Invalid repo id {repo_id!r}: expected 'name' or 'namespace/name'.")
    for part in parts:
        if not part or len(part) > MAX_REPO_NAME_LENGTH or not _REPO_PART_RE.fullmatch(part):
            raise BadHubPath(
                f"Invalid repo id {repo_id!r}: use letters, digits, '-', '_' and '.', "
                f"at most {MAX_REPO_NAME_LENGTH} characters per part."
            )
        if part[0] in "-." or part[-1] in "-." or "--" in part or ".." in part:
            raise BadHubPath(
                f"Invalid repo id {repo_id!r}: '-' and '.' cannot start or end a name, "
                "and '--' and '..' are forbidden."
            )
    if repo_id.endswith(".git"):
        raise BadHubPath(f"Invalid repo id {repo_id!r}: cannot end with '.git'.")
    return repo_id


def validate_revision(revision):
    if is_commit(revision):
        return revision
    if (
        not revision
        or len(revision) > MAX_REVISION_LENGTH
        or not _REVISION_RE.fullmatch(revision)
        or revision[0] in "-/."
        or revision == "@"
        or revision.endswith(("/", ".", ".lock"))
        or ".." in revision
        or "//" in revision
        or "/." in revision
    ):
        raise BadHubPath(f"Invalid revision {revision!r}.")
    if revision.startswith("refs/") and not (
        _PR_RE.fullmatch(revision)
        or revision.startswith(("refs/convert/", "refs/heads/", "refs/tags/"))
    ):
        raise BadHubPath(f"Invalid revision {revision!r}.")
    return revision


def validate_filename(filename):
    if not filename:
        raise BadHubPath("A file path is required.")
    try:
        encoded = filename.encode()
    except UnicodeEncodeError:  # a lone surrogate: undecodable bytes in the request path
        raise BadHubPath("File path is not valid UTF-8.")
    if len(encoded) > MAX_FILENAME_LENGTH:
        raise BadHubPath(f"File path longer than {MAX_FILENAME_LENGTH} bytes.")
    if _CONTROL_RE.search(filename):
        raise BadHubPath("File path contains control characters.")
    if filename.startswith("/") or "\\" in filename:
        raise BadHubPath(f"Invalid file path {filename!r}.")
    for segment in filename.split("/"):
        if segment in ("", ".", ".."):
            raise BadHubPath(f"Invalid file path {filename!r}: empty, '.' or '..' segment.")
    return filename


def _decode_segment(raw, what):
    """Percent-decode one path segment; reject undecodable bytes."""
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise BadHubPath(f"Invalid {what}: not UTF-8.")


def _split_repo(segments, marker_positions):
    """Return (RepoRef, index of the marker) for `[type/]ns/name/<marker>/...` or `name/<marker>`."""
    repo_type = MODEL
    if segments and segments[0] in _PREFIX_TO_TYPE:
        repo_type = _PREFIX_TO_TYPE[segments[0]]
        segments = segments[1:]
        offset = 1
    else:
        offset = 0
    # A complete `.../resolve/{revision}/{file}` wins (`gpt2/resolve/resolve/x` is branch
    # "resolve" of gpt2); else an incomplete one is still a resolve path, and a bad request.
    for needed in (2, 0):
        for position in marker_positions:
            if len(segments) > position + needed and segments[position] == "resolve":
                raw_id = "/".join(segments[:position])
                if "%" in raw_id:
                    raise BadHubPath("Invalid repo id: percent-encoded characters are not allowed.")
                return RepoRef(repo_type, validate_repo_id(raw_id)), position + offset
    return None, None


def check_request_path(path):
    """Reject a (decoded or raw) request path no Hub path can be, before it is looked up."""
    if len(path) > MAX_RAW_PATH_LENGTH:
        raise BadHubPath("Request path too long.")
    if _CONTROL_RE.search(path):
        raise BadHubPath("Request path contains control characters.")
    return path


# Warm clients ask for the same few paths again and again: what is parsed from a path alone is
# remembered, for a bounded number of short paths (so hostile ones cannot fill memory: a few
# MB at most); longer paths are parsed every time, and errors are never remembered.
MEMO_PATHS = 4096
MEMO_PATH_LENGTH = 512
MEMO_PATH_SEGMENTS = 16


def memo_by_path(function):
    """`function(path)` remembered for short paths (`MEMO_PATH_LENGTH`, `MEMO_PATH_SEGMENTS`)."""
    remembered = functools.lru_cache(maxsize=MEMO_PATHS)(function)

    @functools.wraps(function)
    def memo(path):
        if len(path) > MEMO_PATH_LENGTH or path.count("/") >= MEMO_PATH_SEGMENTS:
            return function(path)
        return remembered(path)

    memo.cache_info = remembered.cache_info
    memo.cache_clear = remembered.cache_clear
    return memo


@memo_by_path
def base_path_candidates(path):
    """The distribution base paths a (decoded) content path may be under, longest first.

    What pulpcore's content handler matches on: `a/b/c` may be at `a/b/c`, under `a/b` or under
    `a` (a base path is never nested in another, so at most one of them exists).
    """
    segments = path.strip("/").split("/")
    return tuple("/".join(segments[:n]) for n in range(len(segments), 0, -1))


@memo_by_path
def parse_hub_path(raw_path):
    """Parse a percent-encoded path relative to a distribution into a request object.

    Returns a `ResolveRequest` or an `ApiRequest`; None when the path is not a Hub path this
    cache serves (the caller answers 404). Raises `BadHubPath` for malformed input.
    """
    raw_path = check_request_path(raw_path.split("?", 1)[0])
    segments = raw_path.lstrip("/").split("/")
    if segments and segments[0] == "api":
        return _parse_api(segments[1:])
    repo, index = _split_repo(segments, (2, 1))
    if repo is None:
        return None
    rest = _join_unencoded_ref(segments[index + 1 :])
    if len(rest) < 2:
        raise BadHubPath("Expected .../resolve/{revision}/{file path}.")
    revision = validate_revision(_decode_segment(rest[0], "revision"))
    filename = validate_filename(_decode_segment("/".join(rest[1:]), "file path"))
    return ResolveRequest(repo, revision, filename)


def _join_unencoded_ref(rest):
    """`refs/pr/1/file` as the hub reads it: clients encode the ref (`refs%2Fpr%2F1`), but a
    hand-written URL may not, and a branch named "refs" must not be confused with it."""
    if len(rest) >= 4 and rest[0] == "refs" and rest[1] in ("pr", "convert"):
        return ["/".join(rest[:3]), *rest[3:]]
    return rest


# Endpoints whose answer depends only on (repo, revision, arguments): cacheable per commit.
REVISIONED_ENDPOINTS = ("tree", "paths-info")


def _parse_api(segments):
    if len(segments) < 2 or segments[0] not in _COLLECTION_TO_TYPE:
        return None
    repo_type = _COLLECTION_TO_TYPE[segments[0]]
    segments = segments[1:]
    # api/{type}s/{ns}/{name}/... or api/{type}s/{name}/... (legacy unnamespaced repos);
    # a known endpoint word right after the first segment means no namespace.
    # A known endpoint word right after the first segment means no namespace, unless the
    # endpoint then lacks its revision (`api/models/org/tree` is the repo "org/tree").
    known = ("revision", "tree", "paths-info", "refs", "xet-read-token", "commits")
    revisioned = ("revision", "tree", "paths-info")
    unnamespaced = len(segments) < 2 or (
        segments[1] in known and not (segments[1] in revisioned and len(segments) == 2)
    )
    if unnamespaced:
        raw_id, rest = segments[0], segments[1:]
    else:
        raw_id, rest = "/".join(segments[:2]), segments[2:]
    if "%" in raw_id:
        raise BadHubPath("Invalid repo id: percent-encoded characters are not allowed.")
    repo = RepoRef(repo_type, validate_repo_id(raw_id))
    if not rest or rest == [""]:
        return ApiRequest(repo, "info")
    endpoint = rest[0]
    if endpoint == "revision":
        if len(rest) != 2:
            raise BadHubPath("Expected api/{type}s/{repo_id}/revision/{revision}.")
        return ApiRequest(repo, "info", validate_revision(_decode_segment(rest[1], "revision")))
    if endpoint in REVISIONED_ENDPOINTS:
        if len(rest) < 2:
            raise BadHubPath(f"Expected api/{{type}}s/{{repo_id}}/{endpoint}/{{revision}}.")
        revision = validate_revision(_decode_segment(rest[1], "revision"))
        subpath = ""
        if len(rest) > 2 and "/".join(rest[2:]):
            subpath = validate_filename(_decode_segment("/".join(rest[2:]), "path"))
        if endpoint == "paths-info" and subpath:
            raise BadHubPath("paths-info takes no path after the revision.")
        return ApiRequest(repo, endpoint, revision, subpath)
    if endpoint in ("refs",) and len(rest) == 1:
        return ApiRequest(repo, endpoint)
    return ApiRequest(repo, "unsupported")


# --- API requests ------------------------------------------------------------------------------

MAX_PATHS_INFO = 1000
# Query arguments the cache passes upstream, per endpoint; everything else is dropped (and so is
# not part of a cache key). An endpoint not named here is not served.
ALLOWED_QUERY = {
    "info": ("blobs", "expand", "securityStatus", "files_metadata"),
    "tree": ("recursive", "expand", "cursor", "limit"),
    "paths-info": (),
    "refs": ("include_prs",),
}


def allowed_query(endpoint, items):
    """The (name, value) pairs of a request's query that go upstream, sorted: a cache key."""
    allowed = ALLOWED_QUERY.get(endpoint, ())
    return tuple(sorted((name, value) for name, value in items if name in allowed))


def paths_info_form(paths, expand):
    """The form a paths-info request sends upstream, normalized (a cache key); 400 if bad.

    `paths` is a list of file or folder paths (or one path), `expand` a bool or its text.
    """
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not paths or len(paths) > MAX_PATHS_INFO:
        raise BadHubPath(f"Expected 1 to {MAX_PATHS_INFO} 'paths'.")
    for path in paths:
        if not isinstance(path, str):
            raise BadHubPath("Each path must be a string.")
        validate_filename(path)
    expand = str(expand).lower() in ("1", "true")
    form = [("paths", path) for path in sorted(set(paths))]
    return tuple(form + [("expand", "true" if expand else "false")])


# --- ranges ----------------------------------------------------------------------------------


def byte_span(requested, size):
    """(start, stop, ranged) to send of a file of `size` bytes; None: answer 416.

    `requested` is the (start, stop) aiohttp parses from `Range` ((None, None) without one, a
    negative start for a suffix range), or None when the header cannot be parsed.
    """
    if requested is None:
        return None
    if size == 0:  # no byte to range over: the (empty) whole, as servers ignore such a Range
        return 0, 0, False
    start, stop = requested
    ranged = start is not None or stop is not None
    start, stop = start or 0, size if stop is None else min(stop, size)
    if start < 0:  # a suffix range: the last -start bytes
        start = max(size + start, 0)
    if ranged and start >= size:
        return None
    return start, stop, ranged


def content_range(start, stop, size):
    """The `Content-Range` of bytes [start, stop) of a file of `size` bytes."""
    return f"bytes {start}-{stop - 1}/{size}"


def is_content_range(value, start, stop, size):
    """Whether an upstream `Content-Range` is exactly bytes [start, stop) of `size` bytes."""
    return (value or "").strip().lower() == content_range(start, stop, size)


# --- headers ---------------------------------------------------------------------------------


def normalize_etag(etag):
    """The client's normalization (file_download._normalize_etag): drop W/ and quotes."""
    if etag is None:
        return None
    etag = etag.strip()
    return etag.removeprefix("W/").strip('"')


def _split_link_header(value):
    # Commas inside <...> are part of URLs, so split only outside angle brackets.
    parts, depth, current = [], 0, []
    for char in value:
        if char == "<":
            depth += 1
        elif char == ">":
            depth = max(0, depth - 1)
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if "".join(current).strip():
        parts.append("".join(current))
    return parts


def next_page_url(link_header):
    """The `rel="next"` URL of a Link header, or None."""
    for part in _split_link_header(link_header or ""):
        match = re.match(r"\s*<([^>]*)>(.*)$", part)
        if match and re.search(r'(?:^|;)\s*rel\s*=\s*"?next"?\s*(?:;|$)', match.group(2)):
            return match.group(1)
    return None


def rebase_url(url, upstream_base, local_base):
    """Point an upstream URL at the cache: replace the hub base with the distribution base.

    Returns None when the URL is not under the upstream base (never hand it to a client).
    """
    upstream = urlsplit(upstream_base.rstrip("/") + "/")
    target = urlsplit(url)
    other_origin = (target.scheme, target.netloc) != (upstream.scheme, upstream.netloc)
    if other_origin and (target.scheme or target.netloc):
        return None
    if not target.path.startswith(upstream.path):
        return None
    rest = target.path[len(upstream.path) :]
    query = f"?{target.query}" if target.query else ""
    return f"{local_base.rstrip('/')}/{rest}{query}"


XET_FIELDS = ("xetHash", "xetEnabled")


def strip_xet_fields(value):
    """Remove the Xet fields at any depth (tree entries, info `siblings`, `xetEnabled`).

    A client with hf_xet that sees them talks to the hub's Xet servers, around the cache.
    """
    if isinstance(value, dict):
        for name in XET_FIELDS:
            value.pop(name, None)
        for item in value.values():
            strip_xet_fields(item)
    elif isinstance(value, list):
        for item in value:
            strip_xet_fields(item)
    return value


@dataclass(frozen=True)
class FileFacts:
    """What the client reads from the HEAD of a resolve URL, as upstream gave it."""

    commit: str
    etag: str  # normalized: sha256 for LFS files, git blob sha1 otherwise
    size: int
    lfs_sha256: str | None = None

    def content_digest(self):
        """(field, value) that identifies these bytes: the LFS sha256, or the git blob id.

        None when neither is known (the ETag of a non-LFS file is not a git blob id).
        """
        if self.lfs_sha256:
            return "sha256", self.lfs_sha256
        if GIT_SHA1_RE.fullmatch(self.etag):
            return "git_blob_sha1", self.etag
        return None

    @property
    def git_blob_sha1(self):
        """The git blob id the downloaded bytes must have, for a non-LFS file."""
        digest = self.content_digest()
        return digest[1] if digest and digest[0] == "git_blob_sha1" else None


def resolve_headers(facts, filename):
    """The headers of a `resolve` answer (HEAD and GET alike), as the hub gives them.

    The client names its cached blob after `X-Linked-Etag` (else `ETag`) and checks the size
    against `X-Linked-Size`; only LFS files have an `X-Linked-Etag` on huggingface.co.
    """
    headers = {
        "X-Repo-Commit": facts.commit,
        "ETag": f'"{facts.etag}"',
        "X-Linked-Size": str(facts.size),
        "Accept-Ranges": "bytes",
        "Content-Type": _content_type(filename),
    }
    if facts.lfs_sha256:
        headers["X-Linked-Etag"] = f'"{facts.etag}"'
    return headers


# Request headers that make a file answer partial or conditional (RFC 9110 sections 13 and 14).
RANGE_AND_CONDITIONAL_HEADERS = (
    "range",
    "if-range",
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
)


def is_plain_get(headers):
    """Whether a file request asks for the whole file, unconditionally (a 200 with every byte).

    `headers` is a case-insensitive mapping (aiohttp's request headers).
    """
    return not any(name in headers for name in RANGE_AND_CONDITIONAL_HEADERS)


@memo_by_path
def _content_type(filename):
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
GIT_SHA1_RE = re.compile(r"^[0-9a-f]{40}$")


MAX_FILE_SIZE = 2**63 - 1  # what the database can hold (bigint)
MAX_ETAG_LENGTH = 128
# An ETag becomes a file name in the client cache: printable ASCII, no slash, quote or backslash.
_ETAG_RE = re.compile(rf"^[!#-.0-\[\]-~]{{1,{MAX_ETAG_LENGTH}}}$")
_ERROR_CODE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


def upstream_refused(message):
    """A 502 for an upstream answer the cache will not use (never cached, never a 500)."""
    return HubError(502, UPSTREAM_UNAVAILABLE, f"Upstream answer refused: {message}")


def lower_keys(headers):
    # HTTP header names are case-insensitive; clients and servers spell them differently.
    return {str(name).lower(): value for name, value in headers.items()}


def _header_text(headers, name):
    value = headers.get(name)
    return value if isinstance(value, str) else None


def _file_facts_problem(headers):
    """(FileFacts, None) from resolve answer headers, or (None, what is wrong)."""
    headers = lower_keys(headers)
    commit = _header_text(headers, "x-repo-commit")
    if not commit:
        return None, "no X-Repo-Commit header."
    if not is_commit(commit):
        return None, "X-Repo-Commit is not a commit sha."
    linked_etag = normalize_etag(_header_text(headers, "x-linked-etag"))
    etag = linked_etag or normalize_etag(_header_text(headers, "etag"))
    if not etag:
        return None, "no ETag header."
    if not _ETAG_RE.fullmatch(etag):
        return None, f"the ETag is not a usable file name (at most {MAX_ETAG_LENGTH} characters)."
    size = _header_text(headers, "x-linked-size") or _header_text(headers, "content-length")
    if not size:
        return None, "no X-Linked-Size or Content-Length header."
    if not (size.isascii() and size.isdigit()) or int(size) > MAX_FILE_SIZE:
        return None, "the file size is not a number the cache can store."
    lfs_sha256 = linked_etag if linked_etag and SHA256_RE.fullmatch(linked_etag) else None
    return FileFacts(commit=commit, etag=etag, size=int(size), lfs_sha256=lfs_sha256), None


def file_facts_from_headers(headers):
    """Read `FileFacts` from the headers of an upstream resolve HEAD (200 or 3xx).

    Returns None when the headers lack the commit, an ETag or a size, or hold values the
    cache cannot use (not a Hub answer).
    """
    return _file_facts_problem(headers)[0]


def file_facts_or_error(headers):
    """`FileFacts` from a final resolve answer, or a 502 that names what is wrong."""
    facts, problem = _file_facts_problem(headers)
    if facts is None:
        raise upstream_refused(problem)
    return facts


def file_facts_from_entry(entry, commit):
    """The `FileFacts` a resolve HEAD would give, from a tree / paths-info entry.

    The hub's ETag of a regular file is its git blob id (the entry's `oid`); of an LFS file, the
    sha256 (`lfs.oid`); the size is the real size in both. None for directories and odd entries.
    """
    if not isinstance(entry, dict) or entry.get("type") != "file" or not is_commit(commit):
        return None
    size, lfs = entry.get("size"), entry.get("lfs")
    if isinstance(lfs, dict):
        sha256, size = lfs.get("oid") or lfs.get("sha256"), lfs.get("size", size)
        if not (isinstance(sha256, str) and SHA256_RE.fullmatch(sha256)):
            return None
        etag, lfs_sha256 = sha256, sha256
    else:
        etag, lfs_sha256 = entry.get("oid"), None
        if not (isinstance(etag, str) and GIT_SHA1_RE.fullmatch(etag)):
            return None
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_FILE_SIZE:
        return None
    return FileFacts(commit=commit, etag=etag, size=size, lfs_sha256=lfs_sha256)


def parse_json_answer(body):
    """An upstream JSON body, or a 502 saying why it is not one."""
    if not body:
        raise upstream_refused("the answer is empty.")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise upstream_refused("the answer is not valid JSON.")


def info_commit(info, revision=None):
    """The commit sha of a repo info answer (`sha`); a 502 when it has none.

    An answer asked for at a commit may omit `sha`: the commit asked for stands in.
    """
    if not isinstance(info, dict):
        raise upstream_refused("the repo info is not a JSON object.")
    commit = info.get("sha")
    if commit is None and is_commit(revision):
        return revision
    if not is_commit(commit):
        raise upstream_refused("the repo info has no commit sha.")
    return commit


def listing_entries(entries):
    """A tree / paths-info answer: a list of objects, else a 502."""
    if not isinstance(entries, list):
        raise upstream_refused("the listing is not a JSON list.")
    if not all(isinstance(entry, dict) for entry in entries):
        raise upstream_refused("the listing holds entries that are not objects.")
    return entries


def error_from_upstream(status, headers):
    """Map an upstream error answer to a `HubError` with the hub's code (kept as given)."""
    headers = lower_keys(headers)
    code = _header_text(headers, "x-error-code")
    if code and not _ERROR_CODE_RE.fullmatch(code):
        code = None
    message = _header_text(headers, "x-error-message") or f"Upstream answered {status}."
    commit = _header_text(headers, "x-repo-commit")
    return HubError(status, code, message, commit=commit if is_commit(commit) else None)


# --- prefetch selection and listings made from a stored recursive tree -------------------------


def _pattern(pattern):
    # huggingface_hub's rule (utils/_paths.py): a pattern ending in "/" matches a folder's files.
    return pattern + "*" if pattern.endswith("/") else pattern


def path_selected(path, allow_patterns=None, ignore_patterns=None):
    """Whether `snapshot_download(allow_patterns=..., ignore_patterns=...)` would take `path`."""
    if allow_patterns and not any(fnmatch(path, _pattern(p)) for p in allow_patterns):
        return False
    return not (ignore_patterns and any(fnmatch(path, _pattern(p)) for p in ignore_patterns))


def _parent(path):
    return path.rpartition("/")[0]


def held_entries(entries, held_paths):
    """The entries of a recursive listing for the files in `held_paths` and their folders."""
    folders = set()
    for path in held_paths:
        while path := _parent(path):
            folders.add(path)
    return [
        entry
        for entry in entries
        if (entry.get("type") == "file" and entry.get("path") in held_paths)
        or (entry.get("type") == "directory" and entry.get("path") in folders)
    ]


def tree_entries(entries, subpath, recursive):
    """A tree answer for `subpath` made from a whole recursive listing; None: no such folder."""
    if subpath:
        if not any(e.get("type") == "directory" and e.get("path") == subpath for e in entries):
            return None
        prefix = subpath + "/"
        entries = [e for e in entries if str(e.get("path", "")).startswith(prefix)]
    if not recursive:
        entries = [e for e in entries if _parent(str(e.get("path", ""))) == subpath]
    return entries


def paths_info_entries(entries, paths):
    """A paths-info answer made from a whole recursive listing: the known paths, in order."""
    by_path = {entry.get("path"): entry for entry in entries}
    return [by_path[path] for path in paths if path in by_path]


def is_true(value):
    return str(value).lower() in ("1", "true")
