"""The Hub protocol answered from a repository version (what a prefetch stored).

A distribution serves a version when it has `repository_version` set, or a `repository` (its
latest version). Without a remote it is *frozen*: every answer comes from the version, a branch
resolves to the commit recorded in it, and whatever the version lacks is a clean 404
(`EntryNotFound`, `RevisionNotFound`, `RepoNotFound`), never an upstream call. With a remote as
well, the version answers what it knows and the rest goes through the remote, at the commit
the version records for the revision asked for.

Tree and paths-info answers are made from the version's recursive listing of the commit (every
upstream page joined), so any folder, recursion and path list is answered; a frozen version
lists only the files it holds. Content units never change, so parsed listings are kept in
process memory by unit.
"""

import json
from dataclasses import replace

from aiohttp import web

from pulpcore.plugin.models import ContentArtifact, RepositoryVersion

from . import hub, small_files
from .memory import Bounded
from .models import HuggingFaceContent, HuggingFaceMetadata, HuggingFaceRevision

VERSION_CACHE = "version"  # the X-Pulp-Cache value of an answer from a repository version
_MAX_CACHED = 64


# Immutable facts (content units, complete versions): kept without invalidation.
_listings = Bounded(_MAX_CACHED)  # metadata unit pk -> (entries, {path: entry})
_held = Bounded(_MAX_CACHED)  # (version pk, repo, commit) -> frozenset of held paths


class VersionView:
    def __init__(self, version, frozen):
        self.version = version
        self.frozen = frozen

    def _units(self, model, repo, **filters):
        return model.objects.filter(
            pk__in=self.version.content.values("pk"),
            repo_type=repo.repo_type,
            repo_id=repo.repo_id,
            **filters,
        )

    def _not_found(self, status, code, message, commit=None):
        """A 404 when frozen; else nothing (None): the remote answers."""
        if self.frozen:
            raise hub.HubError(status, code, message, commit)

    async def commit_for(self, repo, revision):
        """The commit `revision` means in this version (None: ask the remote)."""
        if hub.is_commit(revision):
            if await self._units(HuggingFaceMetadata, repo, commit=revision).aexists():
                return revision
        else:
            unit = await self._units(HuggingFaceRevision, repo, revision=revision or "").afirst()
            if unit is not None:
                return unit.commit
        if not await self._units(HuggingFaceRevision, repo).aexists():
            return self._not_found(
                404, hub.REPO_NOT_FOUND, f"{repo.repo_id} is not in this version."
            )
        return self._not_found(
            404,
            hub.REVISION_NOT_FOUND,
            f"Revision {revision or 'default'!r} is not in this version.",
        )

    async def listing(self, repo, commit):
        """(entries, {path: entry}) of the recursive tree at `commit`; None if not stored."""
        unit = await self._units(
            HuggingFaceMetadata, repo, commit=commit, endpoint=HuggingFaceMetadata.TREE
        ).afirst()
        if unit is None:
            return None

        def parse():
            entries = json.loads(unit.body)
            return entries, {entry.get("path"): entry for entry in entries}

        listing = _listings.get(unit.pk)
        if listing is None:
            listing = parse()
            _listings.put(unit.pk, listing)
        return listing

    async def held(self, repo, commit):
        """The paths of the files the version holds at `commit` (a complete version never
        changes)."""
        key = (self.version.pk, repo, commit)
        held = _held.get(key)
        if held is None:
            paths = self._units(HuggingFaceContent, repo, commit=commit).values_list(
                "path", flat=True
            )
            held = frozenset([path async for path in paths])
            _held.put(key, held)
        return held

    async def visible_entries(self, repo, commit):
        """The listing a client sees: in a frozen version, only the files it holds."""
        listing = await self.listing(repo, commit)
        if listing is None:
            return None
        entries = listing[0]
        if self.frozen:
            entries = hub.held_entries(entries, await self.held(repo, commit))
        return entries

    async def missing_answer(self, repo, commit, path):
        """The stored EntryNotFound answer for `path`, or None."""
        return await self._units(
            HuggingFaceMetadata,
            repo,
            commit=commit,
            endpoint=HuggingFaceMetadata.FILE,
            path=path,
            status=404,
        ).afirst()


async def view_for(distribution, remote):
    """The version a distribution serves, or None."""
    if distribution.repository_version_id:
        version = RepositoryVersion.objects.filter(pk=distribution.repository_version_id)
        frozen = True
    elif distribution.repository_id:
        version = RepositoryVersion.objects.filter(
            repository_id=distribution.repository_id, complete=True
        ).order_by("-number")
        frozen = remote is None
    else:
        return None
    version = await version.select_related("repository").afirst()
    return VersionView(version, frozen) if version is not None else None


def _entry_not_found(path, commit, message=None):
    return hub.HubError(
        404, hub.ENTRY_NOT_FOUND, message or f"{path} does not exist at {commit}.", commit
    )


def _response(request, status, body, headers=None):
    headers = {"Content-Type": "application/json", "X-Pulp-Cache": VERSION_CACHE, **(headers or {})}
    return web.Response(
        status=status, body=body if request.method != "HEAD" else None, headers=headers
    )


async def _resolve(handler, request, view, resolve_request):
    if request.method not in ("GET", "HEAD"):
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
    repo, path = resolve_request.repo, resolve_request.filename
    commit = await view.commit_for(repo, resolve_request.revision)
    if commit is None:
        return None
    missing = await view.missing_answer(repo, commit, path)
    if missing is not None:
        raise _entry_not_found(path, commit, missing.body)
    listing = await view.listing(repo, commit)
    entry = listing[1].get(path) if listing else None
    facts = hub.file_facts_from_entry(entry, commit) if entry else None
    unit = None
    if facts is not None:
        units = HuggingFaceContent.matching(
            repo, facts, path, view.version.repository.pulp_domain_id
        )
        if units is not None:
            unit = await units.filter(pk__in=view.version.content.values("pk")).afirst()
    if unit is None:
        if listing is not None and entry is None:  # the whole listing says: no such file
            raise _entry_not_found(path, commit)
        if view.frozen:
            raise _entry_not_found(path, commit, f"{path} at {commit} is not in this version.")
        return replace(resolve_request, revision=commit)
    headers = {**hub.resolve_headers(facts, path), "X-Pulp-Cache": VERSION_CACHE}
    if request.method == "HEAD":
        return web.Response(headers={**headers, "Content-Length": str(facts.size)})
    content_artifact = (
        await ContentArtifact.objects.select_related("artifact__pulp_domain")
        .filter(content_id=unit.pk, artifact__isnull=False)
        .afirst()
    )
    if content_artifact is None:  # the unit's bytes are not in this Pulp's storage
        if view.frozen:
            raise _entry_not_found(path, commit, f"The bytes of {path} are not stored here.")
        return replace(resolve_request, revision=commit)
    from .handler import HUB_ETAG

    request[HUB_ETAG] = headers["ETag"]
    if answer := await small_files.answer(request, content_artifact, headers):
        return answer
    return await handler._serve_content_artifact(content_artifact, headers, request)


async def _api(handler, request, view, api_request):
    endpoint = api_request.endpoint
    if endpoint == "paths-info":
        if request.method != "POST":
            raise web.HTTPMethodNotAllowed(request.method, ["POST"])
    elif endpoint not in ("info", "tree"):
        return None  # refs and the rest: the remote's, or not served
    elif request.method not in ("GET", "HEAD"):
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
    repo = api_request.repo
    commit = await view.commit_for(repo, api_request.revision)
    if commit is None:
        return None
    headers = {}
    if endpoint == "info":
        return await _info(request, view, api_request, commit, headers)
    entries = await view.visible_entries(repo, commit)
    if entries is None:
        view._not_found(404, hub.REVISION_NOT_FOUND, f"No listing of {commit} here.")
        return replace(api_request, revision=commit)
    if endpoint == "paths-info":
        form = await handler._paths_info_form(request)  # the handler's parsing and checks
        paths = [value for name, value in form if name == "paths"]
        answer = hub.paths_info_entries(entries, paths)
    else:
        recursive = hub.is_true(request.query.get("recursive", "false"))
        answer = hub.tree_entries(entries, api_request.subpath, recursive)
        if answer is None:
            raise _entry_not_found(api_request.subpath, commit)
    return _response(request, 200, json.dumps(answer).encode(), headers)


async def _info(request, view, api_request, commit, headers):
    repo = api_request.repo
    query = hub.allowed_query("info", request.query.items())
    units = view._units(HuggingFaceMetadata, repo, commit=commit, endpoint=HuggingFaceMetadata.INFO)
    unit = await units.filter(key=HuggingFaceMetadata.key_of("info", commit, "", query)).afirst()
    unit = unit or await units.filter(key=HuggingFaceMetadata.key_of("info", commit)).afirst()
    if unit is None:
        view._not_found(404, hub.REVISION_NOT_FOUND, f"No info of {commit} here.")
        return replace(api_request, revision=commit)
    info = json.loads(unit.body)
    if view.frozen and isinstance(info.get("siblings"), list):
        held = await view.held(repo, commit)
        info["siblings"] = [s for s in info["siblings"] if s.get("rfilename") in held]
    return _response(request, 200, json.dumps(info).encode(), headers)


async def answer(handler, request, distribution, remote, hub_request):
    """(the answer from the distribution's repository version, None) or (None, the request
    the remote is to answer): as asked, or pinned to the commit the version records for its
    revision, so that a version's branch means one commit, files pulled through included."""
    view = await view_for(distribution, remote)
    if view is None:
        return None, hub_request
    if isinstance(hub_request, hub.ResolveRequest):
        answered = await _resolve(handler, request, view, hub_request)
    else:
        answered = await _api(handler, request, view, hub_request)
    if answered is None:
        return None, hub_request
    if isinstance(answered, hub.ResolveRequest | hub.ApiRequest):
        return None, answered
    return answered, hub_request
