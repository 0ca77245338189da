"""The content app's handler for the Hub surface of a Hugging Face distribution.

Thin by design: parse the request (`hub`), decide from what the database knows (`metadata`,
the stored file), answer; a cold file body comes through `pullthrough`. A HEAD is answered from
stored metadata (or one quick upstream HEAD), never by downloading the file.
"""

import logging
from functools import partial

from aiohttp import web
from asgiref.sync import sync_to_async
from django.conf import settings

from pulpcore.plugin.content import Handler, PathNotResolved
from pulpcore.plugin.models import ContentArtifact, RemoteArtifact

from . import access, hub, policy, pullthrough, storage
from .metadata import FRESH, NEXT_PAGE, STALE, HubMetadata
from .models import (
    HuggingFaceContent,
    HuggingFaceDistribution,
    HuggingFaceRemote,
    HuggingFaceTokenContentGuard,
    MissingToken,
)
from .upstream import UpstreamUnavailable

log = logging.getLogger(__name__)

CACHE_HEADER = "X-Pulp-Cache"
HUB_ETAG = "hub_etag"  # request key: the ETag a resolve answer must carry


def error_response(error):
    return web.Response(
        status=error.status,
        body=error.body(),
        headers={**error.headers(), "Content-Type": "application/json"},
    )


def _cache_headers(state):
    headers = {CACHE_HEADER: state}
    if state == STALE:
        headers["Warning"] = '110 pulp "Response is stale: the upstream hub is unavailable"'
    return headers


class HuggingFaceHandler(Handler):
    distribution_model = HuggingFaceDistribution

    async def handle(self, request):
        path = request.match_info["path"]
        try:
            # Before any database query: a NUL byte or an oversized path must not reach one.
            hub.check_request_path(path)
        except hub.HubError as error:
            return error_response(error)
        try:
            distribution = await sync_to_async(self._match_distribution)(path)
        except PathNotResolved:
            # Not a Hugging Face distribution: the path belongs to pulpcore's generic handler.
            if request.method in ("GET", "HEAD"):
                return await Handler().stream_content(request)
            raise
        try:
            await sync_to_async(self._permit_hub_client)(request, distribution)
        except hub.HubError as error:
            return error_response(error)
        remote = await self._remote(distribution)
        try:
            hub_request = hub.parse_hub_path(self._relative_raw_path(request, distribution))
            if hub_request is None or remote is None:
                raise hub.HubError(404, hub.REPO_NOT_FOUND, "Not a Hub path served here.")
            if denial := policy.check_request(remote.rules, hub_request):  # before any upstream
                raise denial.hub_error()
            if isinstance(hub_request, hub.ResolveRequest):
                if request.method not in ("GET", "HEAD"):
                    raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
                return await self._resolve(request, distribution, remote, hub_request)
            return await self._api(request, distribution, remote, hub_request)
        except hub.HubError as error:
            return error_response(error)

    def _permit_hub_client(self, request, distribution):
        """The content guard check, with the 401 a Hub client expects when it sent no token."""
        guard = distribution.content_guard
        guard = guard.cast() if guard is not None else None
        if isinstance(guard, HuggingFaceTokenContentGuard):
            try:
                guard.permit(request)
            except MissingToken as exc:
                raise hub.HubError(401, None, str(exc))
            except PermissionError as exc:
                raise hub.HubError(403, None, str(exc))
            return
        self._permit(request, distribution)

    @staticmethod
    async def _remote(distribution):
        remote = distribution.remote
        if remote is None:
            return None
        remote = await remote.acast()
        return remote if isinstance(remote, HuggingFaceRemote) else None

    @staticmethod
    def _relative_raw_path(request, distribution):
        """The still percent-encoded path below the distribution's base path.

        Routing decodes `%2F`, but a revision like `refs%2Fpr%2F1` is one path segment.
        """
        raw = request.raw_path.split("?", 1)[0]
        prefix_segments = settings.CONTENT_PATH_PREFIX.strip("/").split("/")
        skip = len(prefix_segments) + len(distribution.base_path.strip("/").split("/"))
        if settings.DOMAIN_ENABLED:
            skip += 1
        return "/".join(raw.lstrip("/").split("/")[skip:])

    @staticmethod
    def _distribution_url(request, distribution):
        prefix = settings.CONTENT_PATH_PREFIX
        if settings.DOMAIN_ENABLED:
            prefix += request.match_info["pulp_domain"] + "/"
        return f"{request.scheme}://{request.host}{prefix}{distribution.base_path}"

    # --- resolve ------------------------------------------------------------------------------

    async def _resolve(self, request, distribution, remote, resolve_request):
        facts, state = await HubMetadata(remote).file_facts(resolve_request)
        if denial := policy.check_size(remote.rules, resolve_request.filename, facts.size):
            raise denial.hub_error()
        access.record(remote.pk, resolve_request.repo, facts.commit, resolve_request.filename)
        headers = {
            **hub.resolve_headers(facts, resolve_request.filename),
            **_cache_headers(state),
        }
        if request.method == "HEAD":
            return web.Response(headers={**headers, "Content-Length": str(facts.size)})
        request[HUB_ETAG] = headers["ETag"]
        return await self._serve_file(
            request, distribution, remote, resolve_request, facts, headers
        )

    @staticmethod
    def _set_etag_headers(headers, sha):
        # pulpcore sets the sha256 as ETag on stored files; keep the hub's, as the HEAD gave it.
        headers.setdefault("ETag", f'"{sha}"')

    @staticmethod
    async def _stored_file(distribution, remote, resolve_request, facts, url):
        """The file this remote stored, if its bytes are what the remote's hub says now.

        The cache is per remote (`RemoteArtifact`), and within it the digest decides: bytes that
        another hub gave for the same commit are never served here.
        """
        query = ContentArtifact.objects.filter(
            remoteartifact__remote=remote, remoteartifact__url=url, artifact__isnull=False
        )
        units = HuggingFaceContent.matching(
            resolve_request.repo, facts, resolve_request.filename, distribution.pulp_domain_id
        )
        if units is not None:  # else no digest to compare with: the remote's own download
            query = query.filter(content__in=units.values("pk"))
        return await query.select_related("artifact__pulp_domain").afirst()

    async def _serve_file(self, request, distribution, remote, resolve_request, facts, headers):
        relative_path = resolve_request.path(revision=facts.commit)
        url = remote.get_remote_artifact_url(relative_path)
        repository = None
        if distribution.repository_id:
            repository = await distribution.repository.acast()
        content_artifact = await self._stored_file(
            distribution, remote, resolve_request, facts, url
        )
        if content_artifact is not None:
            if repository is not None and repository.PULL_THROUGH_SUPPORTED:
                await repository.async_pull_through_add_content(content_artifact)
            return await self._serve_content_artifact(content_artifact, headers, request)
        if remote.policy == HuggingFaceRemote.STREAMED:
            return await self._stream_without_storing(request, remote, url, relative_path, headers)
        await storage.admit(remote, facts.size)  # a 507 when it cannot fit under max_size
        fetch = partial(
            pullthrough.fetch_and_store, self, remote, url, relative_path, facts, repository
        )
        current = pullthrough.download(remote, url, facts.size, distribution.pulp_domain, fetch)
        response = await pullthrough.stream(request, current, {**headers, CACHE_HEADER: "miss"})
        if response is None:  # the download landed while we joined: it is in storage now
            return await self._serve_file(
                request, distribution, remote, resolve_request, facts, headers
            )
        return response

    async def _stream_without_storing(self, request, remote, url, relative_path, headers):
        """Policy `streamed`: pass the bytes on, keep nothing."""
        content_artifact = ContentArtifact(relative_path=relative_path)
        remote_artifact = RemoteArtifact(remote=remote, url=url, content_artifact=content_artifact)
        try:
            return await self._stream_remote_artifact(
                request,
                web.StreamResponse(headers={**headers, CACHE_HEADER: "miss"}),
                remote_artifact,
                save_artifact=False,
            )
        except pullthrough.DOWNLOAD_ERRORS as exc:
            raise pullthrough.download_error(exc)

    # --- api ----------------------------------------------------------------------------------

    @staticmethod
    async def _paths_info_form(request):
        """The paths-info request body, in JSON or form encoding, as `hub.paths_info_form` wants."""
        if request.content_type == "application/json":
            try:
                payload = await request.json()
            except ValueError:
                raise hub.BadHubPath("The request body is not JSON.")
            if not isinstance(payload, dict):
                raise hub.BadHubPath("Expected a JSON object with 'paths'.")
            return hub.paths_info_form(payload.get("paths", []), payload.get("expand", False))
        form = await request.post()
        return hub.paths_info_form(form.getall("paths", []), form.get("expand", "false"))

    async def _api(self, request, distribution, remote, api_request):
        metadata = HubMetadata(remote)
        endpoint = api_request.endpoint
        if endpoint == "paths-info":
            if request.method != "POST":
                raise web.HTTPMethodNotAllowed(request.method, ["POST"])
        elif request.method not in ("GET", "HEAD"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
        if endpoint not in hub.ALLOWED_QUERY:
            # commits, xet-read-token, discussions...: answers that are either live or would
            # lead a client around the cache.
            raise hub.HubError(404, None, f"This cache does not serve {endpoint!r} endpoints.")
        query = hub.allowed_query(endpoint, request.query.items())
        try:
            if endpoint == "refs":
                # Where branches and tags point now: a live answer, never stored.
                answer = await metadata.refs(api_request, query)
                commit_state = answer.cache
            elif endpoint == "info":
                answer = await metadata.info(api_request.repo, api_request.revision, query)
                commit_state = answer.cache
            else:
                commit, commit_state = await metadata.commit_for(
                    api_request.repo, api_request.revision
                )
                form = await self._paths_info_form(request) if endpoint == "paths-info" else ()
                answer = await metadata.listing(api_request, commit, query, form)
        except UpstreamUnavailable as exc:
            raise exc.hub_error()
        headers = {k: v for k, v in answer.headers.items() if k != NEXT_PAGE}
        if next_url := answer.headers.get(NEXT_PAGE):
            local = hub.rebase_url(
                next_url, remote.url, self._distribution_url(request, distribution)
            )
            if local:
                headers["Link"] = f'<{local}>; rel="next"'
        state = STALE if STALE in (answer.cache, commit_state) else answer.cache
        if state == FRESH and commit_state != FRESH:
            state = commit_state
        headers.update(_cache_headers(state))
        body = answer.body if request.method != "HEAD" else None
        return web.Response(status=answer.status, body=body, headers=headers)


async def keep_hub_etag(request, response):
    """aiohttp's FileResponse sets an ETag of its own (mtime-size); a resolve keeps the hub's."""
    etag = request.get(HUB_ETAG)
    if etag is not None and response.status in (200, 206):
        response.headers["ETag"] = etag
