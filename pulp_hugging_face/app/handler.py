"""The content app's handler for the Hub surface of a Hugging Face distribution.

Thin by design: parse the request (`hub`), decide from what the database knows (`metadata`,
the stored file), answer; a cold file body comes through `pullthrough`. A HEAD is answered from
stored metadata (or one quick upstream HEAD), never by downloading the file.
"""

import functools
import logging
from functools import partial

from aiohttp import web
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

from pulpcore.plugin.content import Handler, PathNotResolved
from pulpcore.plugin.models import ContentArtifact, RemoteArtifact
from pulpcore.plugin.util import set_domain

from . import (
    access,
    distributions,
    hub,
    metrics,
    policy,
    pullthrough,
    small_files,
    storage,
    versions,
)
from .memory import ARTIFACTS, memory
from .metadata import FRESH, MISS, NEXT_PAGE, STALE, HubMetadata
from .models import (
    HuggingFaceDistribution,
    HuggingFaceRemote,
    HuggingFaceTokenContentGuard,
    MissingToken,
)
from .upstream import UpstreamUnavailable

log = logging.getLogger(__name__)

CACHE_HEADER = "X-Pulp-Cache"
MAX_SERVE_ATTEMPTS = 3  # a download that landed is looked up again, but not forever
HUB_ETAG = "hub_etag"  # request key: the ETag a resolve answer must carry
VIEW = "hf_distribution_view"  # request key: the distribution view the fast path found


DATABASE_UNAVAILABLE = hub.HubError(
    503, None, "The cache's database is unavailable; try again.", retry_after="1"
)


@functools.cache
def _prefix_segments():
    """Path segments before a distribution's base path (settings are slow to read per request)."""
    count = len(settings.CONTENT_PATH_PREFIX.strip("/").split("/"))
    return count + 1 if settings.DOMAIN_ENABLED else count


def close_if_broken():
    connection.close_if_unusable_or_obsolete()


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
        try:
            return await self._handle(request)
        except (InterfaceError, OperationalError) as exc:
            # The database restarted under this process: its connection is broken. Once more on
            # a new one; answers from memory need none.
            log.warning("Database error (%s); retrying on a new connection.", exc)
            await sync_to_async(close_if_broken)()
            try:
                return await self._handle(request)
            except (InterfaceError, OperationalError):
                return error_response(DATABASE_UNAVAILABLE)

    async def _handle(self, request):
        path = request.match_info["path"]
        try:
            # Before any database query: a NUL byte or an oversized path must not reach one.
            hub.check_request_path(path)
        except hub.HubError as error:
            return error_response(error)
        try:
            view = request.get(VIEW) or await distributions.view_for(path)
        except PathNotResolved:
            # Not a Hugging Face distribution: the path belongs to pulpcore's generic handler.
            if request.method in ("GET", "HEAD"):
                return await Handler().stream_content(request)
            raise
        metrics.serving(request, view.distribution)
        await distributions.remember_domain(request.match_info.get("pulp_domain", "default"))
        try:
            await self._permit_hub_client(request, view)
        except hub.HubError as error:
            return error_response(error)
        try:
            hub_request = hub.parse_hub_path(self._relative_raw_path(request, view.distribution))
            if hub_request is not None:  # a repository version answers first (versions.py)
                answer, hub_request = await versions.answer(
                    self, request, view.distribution, view.remote, hub_request
                )
                if answer is not None:
                    return answer
            if hub_request is None or view.remote is None:
                raise hub.HubError(404, hub.REPO_NOT_FOUND, "Not a Hub path served here.")
            if denial := policy.check_request(view.rules, hub_request):  # before upstream
                raise denial.hub_error()
            if isinstance(hub_request, hub.ResolveRequest):
                if request.method not in ("GET", "HEAD"):
                    raise web.HTTPMethodNotAllowed(request.method, ["GET", "HEAD"])
                return await self._resolve(request, view, hub_request)
            return await self._api(request, view.distribution, view.remote, hub_request)
        except hub.HubError as error:
            return error_response(error)

    async def _permit_hub_client(self, request, view):
        """The content guard check, with the 401 a Hub client expects when it sent no token."""
        if view.guard is None:
            return
        if isinstance(view.guard, HuggingFaceTokenContentGuard):
            try:
                view.guard.permit(request)
            except MissingToken as exc:
                raise hub.HubError(401, None, str(exc))
            except PermissionError as exc:
                raise hub.HubError(403, None, str(exc))
            return
        await sync_to_async(self._permit)(request, view.distribution)

    @staticmethod
    def _relative_raw_path(request, distribution):
        """The still percent-encoded path below the distribution's base path.

        Routing decodes `%2F`, but a revision like `refs%2Fpr%2F1` is one path segment.
        """
        raw = request.raw_path.split("?", 1)[0]
        skip = _prefix_segments() + distribution.base_path.strip("/").count("/") + 1
        return "/".join(raw.lstrip("/").split("/")[skip:])

    @staticmethod
    def _distribution_url(request, distribution):
        prefix = settings.CONTENT_PATH_PREFIX
        if settings.DOMAIN_ENABLED:
            prefix += request.match_info["pulp_domain"] + "/"
        return f"{request.scheme}://{request.host}{prefix}{distribution.base_path}"

    # --- resolve ------------------------------------------------------------------------------

    async def _resolve(self, request, view, resolve_request):
        remote = view.remote
        facts, state = await HubMetadata(remote).file_facts(resolve_request)
        if denial := policy.check_size(view.rules, resolve_request.filename, facts.size):
            raise denial.hub_error()
        access.record(remote.pk, resolve_request.repo, facts.commit, resolve_request.filename)
        headers = {
            **hub.resolve_headers(facts, resolve_request.filename),
            **_cache_headers(state),
        }
        if request.method == "HEAD":
            access.note_answer(request, remote.pk, state)
            return web.Response(headers={**headers, "Content-Length": str(facts.size)})
        request[HUB_ETAG] = headers["ETag"]
        return await self._serve_file(request, view, resolve_request, facts, headers)

    @staticmethod
    def _set_etag_headers(headers, sha):
        # pulpcore sets the sha256 as ETag on stored files; keep the hub's, as the HEAD gave it.
        headers.setdefault("ETag", f'"{sha}"')

    @staticmethod
    async def _stored_file(distribution, remote, resolve_request, facts, url):
        """The file this remote stored, if its bytes are what the remote's hub says now
        (`pullthrough.stored_files`), remembered until an artifact is removed."""
        key = (remote.pk, url, facts.content_digest(), facts.size)
        if (content_artifact := memory.stored_file(key)) is not None:
            return content_artifact
        generation = memory.generation
        query = pullthrough.stored_files(
            remote,
            url,
            resolve_request.repo,
            resolve_request.filename,
            facts,
            distribution.pulp_domain_id,
        )
        content_artifact = await query.select_related("artifact__pulp_domain").afirst()
        if content_artifact is not None:
            memory.keep_stored_file(key, content_artifact, generation)
        return content_artifact

    async def _serve_file(self, request, view, resolve_request, facts, headers, attempt=1):
        remote = view.remote
        relative_path = resolve_request.path(revision=facts.commit)
        url = remote.get_remote_artifact_url(relative_path)
        content_artifact = await self._stored_file(
            view.distribution, remote, resolve_request, facts, url
        )
        if content_artifact is not None and pullthrough.missing_from_disk(content_artifact):
            memory.forget(ARTIFACTS)  # removed since it was remembered: ask the database again
            content_artifact = await self._stored_file(
                view.distribution, remote, resolve_request, facts, url
            )
        if content_artifact is not None:
            await pullthrough.record_in_repository(view.repository, content_artifact)
            outcome = STALE if headers[CACHE_HEADER] == STALE else FRESH  # from storage
            access.note_answer(request, remote.pk, outcome, facts.size)
            if answer := await small_files.answer(request, content_artifact, headers):
                return answer
            return await self._serve_content_artifact(content_artifact, headers, request)
        access.note_answer(request, remote.pk, MISS)
        if remote.policy == HuggingFaceRemote.STREAMED:
            return await self._stream_without_storing(request, remote, url, relative_path, headers)
        await storage.admit(remote, facts.size)  # a 507 when it cannot fit under max_size
        fetch = partial(
            pullthrough.fetch_and_store, self, remote, url, relative_path, facts, view.repository
        )
        domain = view.distribution.pulp_domain
        stored = partial(self._stored_file, view.distribution, remote, resolve_request, facts, url)
        current = pullthrough.download(remote, url, facts.size, domain, fetch, stored)
        response = await pullthrough.stream(
            request,
            current,
            {**headers, CACHE_HEADER: "miss"},
            fetch_range=partial(pullthrough.stream_apart, request, remote, url, facts.size),
        )
        if response is None:  # the download landed while we joined: it is in storage now
            if attempt >= MAX_SERVE_ATTEMPTS:
                raise hub.HubError(
                    502, hub.UPSTREAM_UNAVAILABLE, "The file was stored but cannot be read back."
                )
            return await self._serve_file(
                request, view, resolve_request, facts, headers, attempt + 1
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
            raise hub.HubError(
                404,
                None,
                "This cache answers only the API calls a download needs: "
                "repo info, tree, paths-info and refs.",
            )
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


def hub_fast_path(hub_handler):
    """A middleware that answers remembered Hub requests without pulpcore's authentication.

    pulpcore authenticates every content request in its one sync thread, with a domain query;
    a Hub client's identity is its token, which the distribution's token guard (or no guard)
    checks without a user. So a request for a distribution this process remembers, in a domain it
    remembers, with no guard or the token guard, goes straight to the handler. Anything else
    (not a Hub route, not remembered yet, another kind of guard) takes pulpcore's way.
    """

    @web.middleware
    async def fast_path(request, handler):
        match_info = request.match_info
        if match_info.handler != hub_handler.handle:
            return await handler(request)
        domain = distributions.remembered_domain(match_info.get("pulp_domain", "default"))
        if domain is None:
            return await handler(request)
        view = distributions.remembered(domain.pk, match_info["path"])
        if view is None or view.guard_needs_authentication:
            return await handler(request)
        set_domain(domain)
        request[VIEW] = view
        return await hub_handler.handle(request)

    return fast_path
