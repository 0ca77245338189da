"""Control API of the fake hub, under /_fake/ on the hub origin. Never counted as hub traffic.

::

    GET  /_fake/stats         request counters and logs
    POST /_fake/reset         clear the logs ({"all": true}: also config and branches)
    POST /_fake/config        change page size, latency, faults (see app.DEFAULT_CONFIG)
    POST /_fake/move-branch   {"repo": id, "branch": "main", "to": label-or-sha}
    GET  /_fake/repos[?repo=id]   repos, commits, refs and per-commit file facts
    GET  /_fake/file?repo=&path=&revision=[&repo_type=]   raw bytes of a file
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from .app import HubServer

# Answers that lie: a redirect to itself, a redirect to a non-HTTP URL, HTML instead of JSON,
# the whole body (200) where a range was asked for.
LYING_FAULTS = ("redirect_loop", "bad_redirect", "not_json", "ignore_range")
FAULTS = (None, "5xx", "429", "drop", "slow", "corrupt", "short", *LYING_FAULTS)
BODY_FAULTS = ("drop", "slow", "corrupt", "short")  # only affect responses with a body
FAULT_TARGETS = ("all", "resolve", "cdn", "api", "xet")
DEFAULT_CONFIG = {
    "page_size": 1000,  # tree entries per page (the hub's value); 50 at most with expand=true
    # seconds before answering each hub/CDN request; with fault "slow", the pause in the middle
    # of targeted bodies instead (2 s if 0)
    "latency": 0.0,
    "fault": None,  # one of FAULTS
    "fault_target": "all",  # one of FAULT_TARGETS (request kinds)
    "fault_count": None,  # None: every matching request; n: only the next n matching requests
    "retry_after": 1,  # Retry-After of the "429" fault, seconds
    "xet": True,  # advertise Xet (X-Xet-Hash, Link rel=xet-auth, tree xetHash) for xet files
    "cdn_ttl": 3600,  # lifetime of the signed CDN URLs, seconds
    # API answers and small-file bodies are written in pieces of at most piece_size bytes
    # (None or 0: in one piece), piece_pause seconds apart, as TLS records reach a client.
    "piece_size": 16 * 1024,
    "piece_pause": 0.002,
    # CDN and bridge bodies at this many bytes per second (None: as fast as they go), so a
    # large download lasts long enough for tests to act while it runs
    "body_rate": None,
}


def _bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _json(request: web.Request) -> dict:
    if not request.can_read_body:
        return {}
    data = await request.json()
    if not isinstance(data, dict):
        raise TypeError("expected a JSON object")
    return data


def _find_repo(hub: HubServer, repo_id: str, repo_type: str | None):
    matches = [r for (t, i), r in hub.repos.items() if i == repo_id and repo_type in (None, t)]
    return matches[0] if len(matches) == 1 else None


def validate_config(hub: HubServer, data: dict) -> str | None:
    unknown = set(data) - set(hub.config)
    if unknown:
        return f"unknown config keys: {sorted(unknown)}"
    if "fault" in data and data["fault"] not in FAULTS:
        return f"fault must be one of {FAULTS}"
    if "fault_target" in data and data["fault_target"] not in FAULT_TARGETS:
        return f"fault_target must be one of {FAULT_TARGETS}"
    if "page_size" in data and (not isinstance(data["page_size"], int) or data["page_size"] < 1):
        return "page_size must be a positive integer"
    size = data.get("piece_size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        return "piece_size must be a non-negative integer or null"
    rate = data.get("body_rate")
    if rate is not None and (
        not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate <= 0
    ):
        return "body_rate must be a positive number or null"
    pause = data.get("piece_pause", 0)
    if not isinstance(pause, (int, float)) or isinstance(pause, bool) or pause < 0:
        return "piece_pause must be a non-negative number"
    return None


async def handle_control(hub: HubServer, request: web.Request, action: str) -> web.StreamResponse:
    try:
        data = await _json(request) if request.method == "POST" else {}
    except (ValueError, TypeError) as exc:
        return _bad(f"invalid JSON body: {exc}")

    if action == "stats" and request.method == "GET":
        return web.json_response(hub.stats())
    if action == "reset" and request.method == "POST":
        hub.reset(everything=bool(data.get("all")))
        return web.json_response({"ok": True})
    if action == "config" and request.method in ("GET", "POST"):
        if error := validate_config(hub, data):
            return _bad(error)
        if "fault" in data:
            # Each fault setting stands alone: target and budget default to "all", unlimited.
            data.setdefault("fault_target", "all")
            data.setdefault("fault_count", None)
        hub.config.update(data)
        return web.json_response(hub.config)
    if action == "move-branch" and request.method == "POST":
        repo = _find_repo(hub, data.get("repo", ""), data.get("repo_type"))
        if repo is None:
            return _bad("unknown repo", 404)
        commit = repo.commit_by_label_or_sha(str(data.get("to", "")))
        if commit is None:
            return _bad("unknown commit label or sha", 404)
        repo.branches[data.get("branch", "main")] = commit.sha
        return web.json_response({"branches": repo.branches})
    if action == "repos" and request.method == "GET":
        wanted = request.query.get("repo")  # only this repo: the large ones describe 5,000 files
        return web.json_response(
            {
                "hub_url": hub.hub_url,
                "cdn_url": hub.cdn_url,
                "bridge_url": hub.bridge_url,
                "repos": {
                    r.repo_id: r.describe()
                    for r in hub.repos.values()
                    if wanted in (None, r.repo_id)
                },
            }
        )
    if action == "file" and request.method == "GET":
        q = request.query
        repo = _find_repo(hub, q.get("repo", ""), q.get("repo_type"))
        commit = repo.resolve(q.get("revision", "main")) if repo else None
        f = commit.files.get(q.get("path", "")) if commit else None
        if f is None:
            return _bad("no such repo, revision or file", 404)
        return web.Response(body=b"".join(f.read()), content_type="application/octet-stream")
    return _bad(f"unknown control call {request.method} /_fake/{action}", 404)
