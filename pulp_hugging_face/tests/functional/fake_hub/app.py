"""The fake Hugging Face Hub (aiohttp): hub, CDN and Xet bridge origins, request log and faults.

It answers as huggingface.co does on the wire: API answers and small-file bodies in pieces of
16 KiB with a pause between them (`Answer`), small files resolved with a relative 307 to
`/api/resolve-cache/...`, LFS files with a 302 to the CDN and Xet files with a 302 to the
bridge (two more origins). docs/dev/testing.md lists what it reproduces and what not.

Paths are parsed by hand from `request.raw_path` because revisions and tree paths arrive
percent-encoded with safe="" (`refs%2Fpr%2F1`, `data%2Ftrain`): the encoded slashes must not
split segments.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlencode

from aiohttp import web

from .control import BODY_FAULTS, DEFAULT_CONFIG, handle_control
from .repos import Commit, Repo, RepoFile

TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
CDN_SECRET = b"fake-hub-cdn-secret"
SECURITY_STATUS = {
    "status": "safe",
    "avScan": {"status": "safe"},
    "pickleImportScan": {"status": "unscanned"},
}


@dataclass
class Route:
    kind: str  # resolve | api | xet | cdn | control | other
    action: str
    repo_type: str | None = None
    repo_id: str | None = None
    revision: str | None = None
    path: str | None = None


def _take_revision(segments: list[str]) -> tuple[str, list[str]]:
    """Split `rev/path...` where rev is normally one encoded segment but may be raw `refs/x/y`."""
    if (
        len(segments) >= 3
        and segments[0] == "refs"
        and segments[1] in ("pr", "convert", "heads", "tags")
    ):
        return "/".join(segments[:3]), segments[3:]
    return unquote(segments[0]) if segments else "", segments[1:]


def parse_hub_path(raw_path: str) -> Route:
    segs = raw_path.split("?", 1)[0].lstrip("/").split("/")
    if segs[0] == "_fake":
        if len(segs) > 1 and segs[1] == "cas":  # the Xet CAS server a client would reach
            return Route("xet", "cas")
        return Route("control", "/".join(segs[1:]))
    if segs[0] == "api":
        if segs[1:2] == ["whoami-v2"]:
            return Route("api", "whoami")
        if segs[1:2] == ["resolve-cache"]:
            # /api/resolve-cache/{type}s/{namespace}/{name}/{commit}/{path}: small files' bodies
            if len(segs) < 7 or segs[2] not in TYPES:
                return Route("other", "not-found")
            repo_id = f"{unquote(segs[3])}/{unquote(segs[4])}"
            path = unquote("/".join(segs[6:]))
            return Route(
                "resolve", "resolve-cache", TYPES[segs[2]], repo_id, unquote(segs[5]), path
            )
        if len(segs) < 4 or segs[1] not in TYPES:
            return Route("other", "not-found")
        repo_id = f"{unquote(segs[2])}/{unquote(segs[3])}"
        route = Route("api", "info", TYPES[segs[1]], repo_id)
        head, rest = (segs[4], segs[5:]) if len(segs) > 4 else ("", [])
        if head in ("", "revision"):
            route.revision = unquote("/".join(rest)) or None
        elif head in ("paths-info", "commits"):
            route.action, route.revision = head, unquote("/".join(rest))
        elif head == "xet-read-token":
            route.kind, route.action, route.revision = "xet", head, unquote("/".join(rest))
        elif head.startswith("xet-reconstruction"):
            route.kind, route.action = "xet", "xet-other"
        elif head == "tree":
            route.action = "tree"
            route.revision, path = _take_revision(rest)
            route.path = unquote("/".join(path)).strip("/")
        elif head == "refs":
            route.action = "refs"
        else:
            route.kind, route.action = "other", "not-found"
        return route
    # {prefix}{namespace}/{name}/resolve/{revision}/{path}
    if segs[0] in ("datasets", "spaces") and len(segs) >= 6 and segs[3] == "resolve":
        repo_type, segs = TYPES[segs[0]], segs[1:]
    elif len(segs) >= 5 and segs[2] == "resolve":
        repo_type = "model"
    else:
        return Route("other", "not-found")
    revision, path = _take_revision(segs[3:])
    return Route(
        "resolve",
        "resolve",
        repo_type,
        f"{unquote(segs[0])}/{unquote(segs[1])}",
        revision,
        unquote("/".join(path)),
    )


def _peer(request: web.Request) -> str | None:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return f"{peer[0]}:{peer[1]}" if peer else None


def _ascii(text: str) -> str:
    return text.encode("ascii", "backslashreplace").decode()


class Answer(web.StreamResponse):
    """An answer with a Content-Length, its body written in pieces with a pause between them.

    Over TLS huggingface.co's answers arrive in records of at most 16 KiB, so a reader that
    takes "whatever is buffered" gets a prefix. The piece size and pause come from the hub's
    config (`piece_size`, `piece_pause`), put on the request by the hub's entry points; control
    answers and anything else without them are written in one piece.
    """

    def __init__(self, body: bytes, status: int = 200, headers=None, content_type=None):
        super().__init__(status=status, headers=headers)
        if content_type:
            self.headers["Content-Type"] = content_type
        self.body_bytes = body
        self.content_length = len(body)
        self._method, self._pieces = "GET", (None, 0.0)

    async def prepare(self, request: web.BaseRequest):
        self._method = request.method
        self._pieces = request.get("pieces") or (None, 0.0)
        self._entry = request.get("log_entry")
        return await super().prepare(request)

    async def write_eof(self, data: bytes = b"") -> None:
        if self.prepared and not self._eof_sent and self._method != "HEAD":
            size, pause = self._pieces
            await write_pieces(self, [self.body_bytes], size, pause, getattr(self, "_entry", None))
        await super().write_eof()


async def write_pieces(
    response: web.StreamResponse, chunks, size: int | None, pause: float, entry=None
):
    """Write `chunks` in pieces of at most `size` bytes (None: as they come), pausing between.

    The bytes written are added to the request's log `entry` as they go."""
    first = True
    for chunk in chunks:
        for pos in range(0, len(chunk), size or len(chunk) or 1):
            if not first and pause:
                await asyncio.sleep(pause)
            piece = chunk[pos : pos + size] if size else chunk
            await response.write(piece)
            if entry is not None:
                entry["bytes"] += len(piece)
            first = False


def json_answer(data, status: int = 200, headers: dict | None = None) -> Answer:
    """A JSON answer as the hub sends it: Content-Length, application/json, written in pieces."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
    return Answer(body, status, headers, "application/json; charset=utf-8")


def hf_error(status: int, code: str | None, message: str, headers: dict | None = None):
    """An error as the hub sends it: X-Error-Code/X-Error-Message headers and a JSON body."""
    hdrs = {"X-Error-Message": _ascii(message), **(headers or {})}
    if code:
        hdrs["X-Error-Code"] = code
    return json_answer({"error": message}, status=status, headers=hdrs)


def parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """(start, end) for a single `bytes=` range, "unsatisfiable", or None to ignore it."""
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not m or (m[1] == "" and m[2] == ""):
        return None
    if m[1] == "":
        n = int(m[2])
        return (size - min(n, size), size) if n > 0 and size > 0 else "unsatisfiable"
    start = int(m[1])
    end = min(int(m[2]) + 1, size) if m[2] else size
    return (start, end) if start < size and start < end else "unsatisfiable"


def repo_object_id(repo: Repo) -> str:
    """The repo's database id (`_id` in its info, a path segment on the Xet bridge)."""
    return hashlib.sha1(repo.repo_id.encode()).hexdigest()[:24]


def _is_true(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


class HubServer:
    """State and handlers of one fake hub process (hub origin + CDN origin)."""

    def __init__(
        self,
        repos: dict[tuple[str, str], Repo],
        hub_url: str,
        cdn_url: str,
        token: str,
        page_size: int = 1000,
        bridge_url: str | None = None,
    ):
        self.repos = repos
        self.hub_url = hub_url.rstrip("/")
        self.cdn_url = cdn_url.rstrip("/")
        # The Xet "legacy HTTP bridge" (cas-bridge.xethub.hf.co): yet another origin.
        self.bridge_url = (bridge_url or cdn_url).rstrip("/")
        self.token = token
        self.initial_config = {**DEFAULT_CONFIG, "page_size": page_size}
        self.config = dict(self.initial_config)
        self.blobs: dict[str, RepoFile] = {}  # sha256 -> file, what the CDN serves
        for repo in repos.values():
            for commit in repo.commits.values():
                self.blobs.update({f.sha256: f for f in commit.files.values() if f.lfs})
        # xet hash -> file, what the bridge serves
        self.xet_blobs = {f.xet_hash: f for f in self.blobs.values() if f.xet_hash}
        self.reset()

    # ---- request log and faults -------------------------------------------------------------

    def reset(self, everything: bool = False):
        self.log: list[dict] = []
        if everything:
            self.config = dict(self.initial_config)
            for repo in self.repos.values():
                repo.branches = dict(repo.initial_branches)

    def record(self, request: web.Request, route: Route, origin: str) -> dict:
        raw_path, _, query = request.raw_path.partition("?")
        entry = {
            "origin": origin,
            "method": request.method,
            "path": raw_path,
            "query": query,
            "kind": route.kind,
            "action": route.action,  # resolve-cache (a resolve kind), cdn, bridge, info, tree...
            "repo_type": route.repo_type,
            "repo_id": route.repo_id,
            "revision": route.revision,
            "file": route.path,
            "authorization": request.headers.get("Authorization"),
            "range": request.headers.get("Range"),
            "headers": dict(request.headers),  # e.g. a remote's custom headers, User-Agent
            "status": None,
            "fault": None,  # the fault injected into this request, if any
            "time": time.time(),
            # the client's address and port ("127.0.0.1:41234"): which process asked, while
            # its connection is open
            "peer": _peer(request),
            # body bytes written to the client so far (counted as they are written; what a
            # client got before it went away or the body was cut)
            "bytes": 0,
            "done": False,  # the answer was sent completely (or failed); bytes is final
        }
        self.log.append(entry)
        request["log_entry"] = entry
        return entry

    def stats(self) -> dict:
        by_kind: dict[str, int] = {}
        bytes_by_kind: dict[str, int] = {}
        for e in self.log:
            by_kind[e["kind"]] = by_kind.get(e["kind"], 0) + 1
            bytes_by_kind[e["kind"]] = bytes_by_kind.get(e["kind"], 0) + e["bytes"]
        return {
            "total": len(self.log),
            "by_kind": by_kind,
            "bytes_by_kind": bytes_by_kind,  # body bytes served, per kind
            "requests": self.log,
            "cdn_requests": [e for e in self.log if e["origin"] in ("cdn", "bridge")],
        }

    def take_fault(self, request: web.Request, kind: str, body: bool) -> str | None:
        """The fault to inject into this request (and log it), if the config targets it."""
        fault, target = self.config["fault"], self.config["fault_target"]
        if fault is None or (target != "all" and target != kind) or kind in ("control", "other"):
            return None
        if (fault in BODY_FAULTS) != body:
            return None
        if self.config["fault_count"] is not None:
            if self.config["fault_count"] <= 0:
                return None
            self.config["fault_count"] -= 1
        request["log_entry"]["fault"] = fault
        return fault

    # ---- entry points ---------------------------------------------------------------------

    def hub_app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20)
        app.router.add_route("*", "/{tail:.*}", self.handle_hub)
        return app

    def cdn_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle_cdn)
        return app

    def bridge_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle_bridge)
        return app

    async def handle_hub(self, request: web.Request) -> web.StreamResponse:
        route = parse_hub_path(request.raw_path)
        if route.kind == "control":
            return await handle_control(self, request, route.action)
        entry = self.record(request, route, "hub")
        request["pieces"] = (self.config["piece_size"], self.config["piece_pause"])
        return await self._answer(request, entry, self._guarded(request, route, self._dispatch))

    async def handle_cdn(self, request: web.Request) -> web.StreamResponse:
        m = re.fullmatch(r"/cdn/([0-9a-f]{64})", request.path)
        route = Route("cdn", "cdn", path=m[1]) if m else Route("other", "not-found")
        entry = self.record(request, route, "cdn")
        return await self._answer(request, entry, self._guarded(request, route, self._cdn))

    async def handle_bridge(self, request: web.Request) -> web.StreamResponse:
        """The Xet bridge: whole files by xet hash, plain HTTP with ranges; counted as `cdn`."""
        m = re.fullmatch(r"/xet-bridge-us/[0-9a-f]{24}/([0-9a-f]{64})", request.path)
        f = self.xet_blobs.get(m[1]) if m else None
        # Its log entries name the blob by sha256, like the CDN's (action "bridge").
        route = Route("cdn", "bridge", path=f.sha256 if f else None)
        if m is None:
            route = Route("other", "not-found")
        entry = self.record(request, route, "bridge")
        return await self._answer(request, entry, self._guarded(request, route, self._bridge))

    @staticmethod
    async def _answer(request, entry: dict, handling) -> web.StreamResponse:
        """Run a handler; log its status and, for answers aiohttp writes itself, their bytes."""
        try:
            response = await handling
            entry["status"] = response.status
            written_by_aiohttp = isinstance(response, web.Response) and not isinstance(
                response, Answer
            )
            if written_by_aiohttp and request.method != "HEAD" and response.body is not None:
                entry["bytes"] += len(response.body)
            return response
        finally:
            entry["done"] = True

    async def _guarded(self, request, route, handler) -> web.StreamResponse:
        """Latency and the error faults (503/429) happen before the real answer."""
        slow_mode = self.config["fault"] == "slow"
        if self.config["latency"] and not slow_mode and route.kind != "other":
            await asyncio.sleep(self.config["latency"])
        fault = self.take_fault(request, route.kind, body=False)
        if fault == "5xx":
            return hf_error(503, None, "Service Unavailable (fake hub fault)")
        if fault == "429":
            retry = str(self.config["retry_after"])
            return hf_error(
                429,
                None,
                "Too Many Requests (fake hub fault)",
                {"Retry-After": retry, "RateLimit": f'"api";r=0;t={retry}'},
            )
        if fault == "redirect_loop":
            return web.Response(status=302, headers={"Location": str(request.rel_url)})
        if fault == "bad_redirect":
            return web.Response(status=302, headers={"Location": "file:///etc/passwd"})
        if fault == "ignore_range":
            request["ignore_range"] = True
        if fault == "not_json":
            return web.Response(
                status=200, text="<html>maintenance</html>", content_type="text/html"
            )
        return await handler(request, route)

    async def _dispatch(self, request: web.Request, route: Route) -> web.StreamResponse:
        if route.action == "not-found":
            return hf_error(404, None, "Sorry, we can't find the page you are looking for.")
        if route.action == "whoami":
            return self._whoami(request)
        if route.action == "cas":
            return hf_error(404, None, "The fake hub has no Xet CAS server")
        repo = self.repos.get((route.repo_type, route.repo_id))
        if (denied := self._access_error(request, repo)) is not None:
            return denied
        if route.action == "refs":
            return self._refs(request, repo)
        if route.action == "xet-other":
            return self._xet_token(repo)
        commit = repo.resolve(route.revision or "main")
        if commit is None:
            return hf_error(404, "RevisionNotFound", f"Invalid rev id: {route.revision}")
        handler = {
            "resolve": self._resolve,
            "resolve-cache": self._resolve_cache,
            "info": self._info,
            "tree": self._tree,
            "paths-info": self._paths_info,
            "commits": self._commits,
            "xet-read-token": self._xet_read_token,
        }[route.action]
        return await handler(request, route, repo, commit)

    # ---- auth -----------------------------------------------------------------------------

    def _bearer(self, request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else None

    def _access_error(self, request, repo: Repo | None):
        token = self._bearer(request)
        if repo is None or (repo.private and token != self.token):
            # The hub does not tell a private repo from a missing one.
            status = 404 if repo is None and token is not None else 401
            return hf_error(status, "RepoNotFound", "Repository not found")
        if repo.gated and token != self.token:
            if token is None:
                msg = (
                    f"Access to model {repo.repo_id} is restricted. You must have access to it"
                    " and be authenticated to access it. Please log in."
                )
                return hf_error(401, "GatedRepo", msg)
            msg = (
                f"Access to model {repo.repo_id} is restricted and you are not in the"
                " authorized list."
            )
            return hf_error(403, "GatedRepo", msg)
        return None

    def _whoami(self, request):
        if self._bearer(request) != self.token:
            return hf_error(401, None, "Invalid credentials in Authorization header")
        return json_answer(
            {
                "type": "user",
                "id": "0" * 24,
                "name": "fake-user",
                "fullname": "Fake User",
                "orgs": [{"name": "fake-org"}],
                "auth": {"type": "access_token", "accessToken": {"role": "read"}},
            }
        )

    # ---- resolve and CDN ------------------------------------------------------------------

    def cdn_location(self, f: RepoFile) -> str:
        expires = int(time.time()) + int(self.config["cdn_ttl"])
        return (
            f"{self.cdn_url}/cdn/{f.sha256}?expires={expires}&sig={self._sign(f.sha256, expires)}"
        )

    @staticmethod
    def _sign(sha256: str, expires: int) -> str:
        return hmac.new(CDN_SECRET, f"{sha256}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]

    def bridge_location(self, repo: Repo, f: RepoFile) -> str:
        """A signed URL on the bridge: /xet-bridge-us/{repo _id}/{xet hash}?...&Signature=..."""
        expires = int(time.time()) + int(self.config["cdn_ttl"])
        name = f.path.rsplit("/", 1)[-1]
        disposition = f"inline; filename*=UTF-8''{quote(name)}; filename=\"{_ascii(name)}\";"
        query = {
            "response-content-disposition": disposition,
            "x-id": "GetObject",
            "Expires": str(expires),
            "Signature": self._sign(f.xet_hash, expires),
        }
        return f"{self.bridge_url}/xet-bridge-us/{repo_object_id(repo)}/{f.xet_hash}?" + urlencode(
            query, quote_via=quote
        )

    async def _resolve(self, request, route, repo: Repo, commit: Commit):
        f = commit.files.get(route.path)
        if f is None:
            # X-Repo-Commit on the 404 lets clients record the miss under the commit (.no_exist).
            return hf_error(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": commit.sha})
        if f.lfs:
            return self._lfs_redirect(repo, commit, f)
        # A small file: a relative 307 to /api/resolve-cache/..., which has the metadata and the
        # body. The redirect itself names the commit but not the ETag or the size.
        location = self.resolve_cache_location(request, repo, commit, route.path, f)
        headers = {"X-Repo-Commit": commit.sha, "Location": location, "Vary": "Origin"}
        body = f"Temporary Redirect. Redirecting to {location}".encode()
        return Answer(body, 307, headers, "text/plain; charset=utf-8")

    @staticmethod
    def resolve_cache_location(request, repo: Repo, commit: Commit, path: str, f: RepoFile):
        """huggingface.co's shape: the original query (or the original path as a key), etag."""
        raw_path, _, query = request.raw_path.partition("?")
        key = query or f"{quote(unquote(raw_path), safe='')}="
        return (
            f"/api/resolve-cache/{repo.plural}/{repo.repo_id}/{commit.sha}/{quote(path)}"
            f"?{key}&etag=%22{f.git_sha1}%22"
        )

    async def _resolve_cache(self, request, route, repo: Repo, commit: Commit):
        f = commit.files.get(route.path)
        if f is None:
            return hf_error(404, "EntryNotFound", "Entry not found", {"X-Repo-Commit": commit.sha})
        if f.lfs:
            return self._lfs_redirect(repo, commit, f)
        headers = {
            "X-Repo-Commit": commit.sha,
            "ETag": f'"{f.git_sha1}"',
            "Accept-Ranges": "bytes",
            "Content-Type": f.content_type,
            "Vary": "Origin, Accept-Encoding",
        }
        return await self.serve_bytes(request, f, headers, "resolve")

    def _lfs_redirect(self, repo: Repo, commit: Commit, f: RepoFile) -> web.Response:
        """LFS: a redirect to the CDN, another origin, so clients stop there during the HEAD."""
        headers = {
            "X-Repo-Commit": commit.sha,
            "Accept-Ranges": "bytes",
            "Vary": "Origin, Accept-Encoding",
            "Location": self.cdn_location(f),
            "ETag": f'"{f.sha256}"',
            "X-Linked-Etag": f'"{f.sha256}"',
            "X-Linked-Size": str(f.size),
            "Content-Type": "text/plain; charset=utf-8",
        }
        if f.xet_hash and self.config["xet"]:
            # A Xet file: the 302 goes to the bridge host, which serves it over plain HTTP.
            api = f"{self.hub_url}/api/{repo.plural}/{repo.repo_id}"
            token_url = f"{api}/xet-read-token/{commit.sha}"
            headers.update(
                {
                    "Location": self.bridge_location(repo, f),
                    "X-Xet-Hash": f.xet_hash,
                    "X-Xet-Refresh-Route": token_url,
                    "Link": f'<{token_url}>; rel="xet-auth", '
                    f'<{api}/xet-reconstruction/{f.xet_hash}>; rel="xet-reconstruction-info"',
                }
            )
        return web.Response(status=302, headers=headers)

    async def _cdn(self, request, route):
        f = self.blobs.get(route.path) if route.path else None
        if f is None:
            return web.Response(status=404, text="NoSuchKey")
        try:
            expires = int(request.query.get("expires", ""))
        except ValueError:
            expires = 0
        sig = self._sign(f.sha256, expires)
        if not hmac.compare_digest(sig, request.query.get("sig", "")) or expires < time.time():
            return web.Response(status=403, text="AccessDenied: Request has expired or bad sig")
        headers = {
            "ETag": f'"{f.sha256}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
            "Cache-Control": "public, max-age=604800, immutable",
        }
        return await self.serve_bytes(request, f, headers, "cdn")

    async def _bridge(self, request, route):
        f = self.blobs.get(route.path) if route.path else None
        if f is None:
            return web.Response(status=404, text="Not Found")
        try:
            expires = int(request.query.get("Expires", ""))
        except ValueError:
            expires = 0
        sig = self._sign(f.xet_hash, expires)
        if (
            not hmac.compare_digest(sig, request.query.get("Signature", ""))
            or expires < time.time()
        ):
            return web.Response(status=403, text="Forbidden: expired or bad Signature")
        headers = {
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
            "Cache-Control": "public, max-age=604800, immutable, s-maxage=604800",
        }
        if disposition := request.query.get("response-content-disposition"):
            headers["Content-Disposition"] = disposition
        return await self.serve_bytes(request, f, headers, "cdn")

    async def serve_bytes(self, request, f: RepoFile, headers: dict, kind: str):
        start, end, status = 0, f.size, 200
        if request.headers.get("Range") and not request.get("ignore_range"):
            parsed = parse_range(request.headers["Range"], f.size)
            if parsed == "unsatisfiable":
                return web.Response(status=416, headers={"Content-Range": f"bytes */{f.size}"})
            if parsed is not None:
                (start, end), status = parsed, 206
                headers["Content-Range"] = f"bytes {start}-{end - 1}/{f.size}"
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = end - start
        if request.method == "HEAD":
            await response.prepare(request)
            await response.write_eof()
            return response
        return await self.write_body(request, response, f.read(start, end), end - start, kind)

    async def write_body(self, request, response, chunks, length: int, kind: str):
        """Write the body, injecting a body fault if one is configured for this kind."""
        fault = self.take_fault(request, kind, body=True) if length else None
        entry = request["log_entry"]
        # Bodies the hub itself serves (small files) come in pieces like its API answers; the
        # CDN's large bodies stream at full speed, or at `body_rate` bytes per second.
        size, pause = (request.get("pieces") or (None, 0.0)) if kind == "resolve" else (None, 0)
        rate = self.config["body_rate"] if kind == "cdn" else None
        if rate:
            # pieces of a 20th of a second, each written when the rate allows it
            size = max(1024, min(256 * 1024, int(rate) // 20))
        if size:
            chunks = (c[i : i + size] for c in chunks for i in range(0, len(c), size))
        started = time.monotonic()
        if fault in ("drop", "short"):
            response.force_close()
        await response.prepare(request)
        entry["status"] = response.status  # sent, also if the client goes away before the end
        # drop/short stop early: drop resets the connection, short closes it cleanly.
        limit = {"drop": length // 2, "short": length - max(1, length // 4)}.get(fault, length)
        flip_at = length // 2 if fault == "corrupt" else -1
        pos, slept = 0, False
        for chunk in chunks:
            if pos and pause:
                await asyncio.sleep(pause)
            if fault == "slow" and not slept and pos + len(chunk) > length // 2:
                cut = length // 2 - pos
                await response.write(chunk[:cut])
                entry["bytes"] += cut
                await asyncio.sleep(self.config["latency"] or 2)
                chunk, pos, slept = chunk[cut:], pos + cut, True
            if pos <= flip_at < pos + len(chunk):
                i = flip_at - pos
                chunk = chunk[:i] + bytes([chunk[i] ^ 0xFF]) + chunk[i + 1 :]
            if pos + len(chunk) > limit:
                chunk = chunk[: limit - pos]
            if rate and (wait := started + pos / rate - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            await response.write(chunk)
            pos += len(chunk)
            entry["bytes"] += len(chunk)
            if pos >= limit and limit < length:
                transport = request.transport
                if transport is not None and fault == "drop":
                    transport.abort()
                elif transport is not None:
                    transport.close()
                return response
        await response.write_eof()
        return response

    # ---- API ------------------------------------------------------------------------------

    def _entry(self, commit: Commit, path: str, expand: bool) -> dict:
        f = commit.files.get(path)
        if f is not None:
            out = {"type": "file", "oid": f.oid, "size": f.size, "path": path}
            if f.lfs:
                out["lfs"] = {"oid": f.sha256, "size": f.size, "pointerSize": f.pointer_size}
            if f.xet_hash and self.config["xet"]:
                out["xetHash"] = f.xet_hash
        else:
            out = {"type": "directory", "oid": commit.tree_oid(path), "size": 0, "path": path}
        if expand:
            last = commit.last_commit_for(path)
            out["lastCommit"] = {"id": last.sha, "title": last.title, "date": last.date}
            if f is not None:
                out["securityFileStatus"] = SECURITY_STATUS
        return out

    async def _tree(self, request, route, repo: Repo, commit: Commit):
        path = route.path or ""
        recursive = _is_true(request.query.get("recursive"))
        expand = _is_true(request.query.get("expand"))
        offset = 0
        if cursor := request.query.get("cursor"):
            try:
                state = json.loads(base64.urlsafe_b64decode(cursor.encode()))
                offset, commit = int(state["offset"]), repo.commit_by_sha(state["commit"]) or commit
            except (ValueError, KeyError, TypeError):
                return hf_error(400, None, "Invalid cursor")
        if path and path not in commit.dirs():
            return hf_error(404, "EntryNotFound", f'{path} does not exist on "{route.revision}"')
        paths = commit.walk(path, recursive)
        page_size = self.config["page_size"]
        page_size = min(page_size, 50) if expand else page_size  # as the hub does
        page = paths[offset : offset + page_size]
        headers = {}
        if offset + page_size < len(paths):
            cursor = base64.urlsafe_b64encode(
                json.dumps({"offset": offset + page_size, "commit": commit.sha}).encode()
            ).decode()
            # Absolute, on the hub's own origin, as huggingface.co does: a proxy must rewrite it.
            url = f"{self.hub_url}/api/{repo.plural}/{repo.repo_id}/tree/"
            url += "/".join(quote(part, safe="") for part in (route.revision, path) if part)
            flags = f"recursive={str(recursive).lower()}&expand={str(expand).lower()}"
            headers["Link"] = f'<{url}?{flags}&cursor={cursor}>; rel="next"'
        body = [self._entry(commit, p, expand) for p in page]
        return json_answer(body, headers=headers)

    async def _paths_info(self, request, route, repo: Repo, commit: Commit):
        if request.content_type == "application/json":
            data = await request.json()
            paths, expand = data.get("paths", []), data.get("expand", False)
            expand = expand if isinstance(expand, bool) else _is_true(str(expand))
        else:
            form = await request.post()
            paths = form.getall("paths", [])
            expand = _is_true(form.get("expand") or request.query.get("expand"))
        if isinstance(paths, str):
            paths = [paths]
        out, seen = [], set()
        for p in (str(p).strip("/") for p in paths):
            if p and p not in seen and (p in commit.files or p in commit.dirs()):
                seen.add(p)
                out.append(self._entry(commit, p, expand))
        return json_answer(out)

    async def _info(self, request, route, repo: Repo, commit: Commit):
        blobs, xet = _is_true(request.query.get("blobs")), self.config["xet"]
        siblings = []
        for path, f in sorted(commit.files.items()):
            s = {"rfilename": path}
            if blobs:
                s.update({"size": f.size, "blobId": f.oid})
                if f.lfs:
                    s["lfs"] = {"sha256": f.sha256, "size": f.size, "pointerSize": f.pointer_size}
                if f.xet_hash and xet:  # beside lfs, as in tree entries
                    s["xetHash"] = f.xet_hash
            siblings.append(s)
        info = {
            "_id": repo_object_id(repo),
            "id": repo.repo_id,
            "author": repo.repo_id.split("/")[0],
            "sha": commit.sha,
            "lastModified": commit.date,
            "createdAt": "2024-01-01T00:00:00.000Z",
            "private": repo.private,
            "gated": repo.gated,
            "disabled": False,
            "likes": 0,
            "tags": [],
            "cardData": repo.card_data,
            "siblings": siblings,
            "usedStorage": sum(f.size for f in commit.files.values()),
            "xetEnabled": bool(xet and repo.xet_enabled),
        }
        if repo.repo_type == "model":
            info.update({"modelId": repo.repo_id, "downloads": 0, "spaces": []})
        elif repo.repo_type == "dataset":
            info.update({"downloads": 0})
        info.update(repo.extra_info)
        if expand := request.query.getall("expand", []):
            # The hub answers only the requested fields (plus the ids) when expand is given.
            info = {k: v for k, v in info.items() if k in ("_id", "id", *expand)}
        return json_answer(info)

    async def _commits(self, request, route, repo: Repo, commit: Commit):
        out, c = [], commit
        while c is not None:
            out.append(
                {
                    "id": c.sha,
                    "title": c.title,
                    "message": "",
                    "date": c.date,
                    "authors": [{"user": "fake-user"}],
                }
            )
            c = c.parent
        return json_answer(out)

    def _refs(self, request, repo: Repo):
        def ref(name, full, sha):
            return {"name": name, "ref": full, "targetCommit": sha}

        out = {
            "branches": [ref(n, f"refs/heads/{n}", s) for n, s in repo.branches.items()],
            "tags": [ref(n, f"refs/tags/{n}", s) for n, s in repo.tags.items()],
            "converts": [ref(n, f"refs/convert/{n}", s) for n, s in repo.converts.items()],
        }
        if _is_true(request.query.get("include_prs")):
            out["pullRequests"] = [
                ref(f"refs/pr/{n}", f"refs/pr/{n}", s) for n, s in repo.pull_requests.items()
            ]
        return json_answer(out)

    async def _xet_read_token(self, request, route, repo: Repo, commit: Commit):
        return self._xet_token(repo)

    def _xet_token(self, repo: Repo):
        expiration = int(time.time()) + 3600
        cas = f"{self.hub_url}/_fake/cas"
        headers = {
            "X-Xet-Cas-Url": cas,
            "X-Xet-Access-Token": "fake-xet-token",
            "X-Xet-Token-Expiration": str(expiration),
        }
        body = {"casUrl": cas, "accessToken": "fake-xet-token", "exp": expiration}
        return json_answer(body, headers=headers)
