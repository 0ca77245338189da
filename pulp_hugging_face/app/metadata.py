"""Hub metadata answers, kept in the database per remote.

Facts about a commit never change and are kept forever; what a branch, tag or PR ref points to
is reused for the remote's `metadata_ttl`, and past it when upstream cannot answer
(stale-if-error). Everything lives in the database, so every content-app process of every host
gives the same answer.
"""

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import IntegrityError
from django.utils import timezone

from . import hub, leases
from .memory import memory
from .models import ApiAnswer, FileMetadata, RevisionCache
from .upstream import Upstream, UpstreamUnavailable

log = logging.getLogger(__name__)

FRESH, STALE, MISS = "hit", "stale", "miss"
DEFAULT_REVISION = ""  # `api/{type}s/{id}` without a revision: the default branch
NOT_FOUND = object()  # remembered: the file does not exist at that commit
NEXT_PAGE = "next-page"  # stored with a listing: upstream's rel="next" URL


@dataclass
class Answer:
    status: int
    headers: dict
    body: bytes
    cache: str  # FRESH, STALE or MISS


def _api_key(*parts):
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


_in_flight = {}


async def _once(key, make):
    """Concurrent callers with the same key share one upstream request (in this process).

    The request runs as its own task, so a client that goes away does not cancel it for others.
    """
    task = _in_flight.get(key)
    if task is None:
        task = asyncio.ensure_future(make())
        _in_flight[key] = task

        def forget(done):
            if _in_flight.get(key) is done:
                del _in_flight[key]

        task.add_done_callback(forget)
    return await asyncio.shield(task)


class HubMetadata:
    def __init__(self, remote):
        self.remote = remote
        self.upstream = Upstream(remote)

    async def _shared(self, key, lookup, fetch):
        """One upstream request per fact: per process (`_once`), across processes (a lease).

        `lookup()` finds what another process stored meanwhile; `fetch()` asks upstream.
        """
        timeout = self.remote.metadata_timeout or 8.0
        digest = leases.lease_key(*key)
        return await _once(key, lambda: leases.shared(self.remote, digest, lookup, fetch, timeout))

    # --- revisions ----------------------------------------------------------------------------

    def _revisions(self, repo, revision):
        return RevisionCache.objects.filter(
            remote=self.remote, repo_type=repo.repo_type, repo_id=repo.repo_id, revision=revision
        )

    def _fresh(self, checked_at):
        # datetime.now(UTC) is django's timezone.now() with USE_TZ, without reading the setting
        return (datetime.now(UTC) - checked_at).total_seconds() < self.remote.metadata_ttl

    async def _known_commit(self, repo, revision):
        """(commit, fresh) from the cache; (None, False) when never seen."""
        if hub.is_commit(revision):
            return revision, True
        key = (self.remote.pk, repo, revision)
        remembered = memory.revisions.get(key)
        if remembered is not None and self._fresh(remembered[1]):
            return remembered[0], True
        generation = memory.generation
        entry = await self._revisions(repo, revision).afirst()
        if entry is None:
            return None, False
        if memory.keeps(generation):
            memory.revisions.put(key, (entry.commit, entry.checked_at))
        return entry.commit, self._fresh(entry.checked_at)

    async def _remember_commit(self, repo, revision, commit):
        if hub.is_commit(revision) or not hub.is_commit(commit):
            return
        generation = memory.generation
        checked_at = timezone.now()
        await RevisionCache.objects.aupdate_or_create(
            remote=self.remote,
            repo_type=repo.repo_type,
            repo_id=repo.repo_id,
            revision=revision,
            defaults={"commit": commit, "checked_at": checked_at},
        )
        if memory.keeps(generation):
            memory.revisions.put((self.remote.pk, repo, revision), (commit, checked_at))

    async def commit_for(self, repo, revision):
        """The commit a revision points to, and whether the answer is fresh, stale or new."""
        commit, fresh = await self._known_commit(repo, revision)
        if commit and fresh:
            return commit, FRESH
        try:
            answer = await self._fetch_info(repo, revision, query=())
        except UpstreamUnavailable as exc:
            if commit:
                return commit, STALE
            raise exc.hub_error()
        return json.loads(answer.body)["sha"], MISS

    # --- files --------------------------------------------------------------------------------

    def _files(self, repo, commit, path):
        return FileMetadata.objects.filter(
            remote=self.remote,
            repo_type=repo.repo_type,
            repo_id=repo.repo_id,
            commit=commit,
            path=path,
        )

    async def _stored_facts(self, request, commit):
        key = (self.remote.pk, request.repo, commit, request.filename)
        facts = memory.facts.get(key)
        if facts is None:
            generation = memory.generation
            entry = await self._files(request.repo, commit, request.filename).afirst()
            if entry is None:
                return None
            facts = NOT_FOUND
            if entry.exists:
                facts = hub.FileFacts(entry.commit, entry.etag, entry.size, entry.lfs_sha256)
            if memory.keeps(generation):
                memory.facts.put(key, facts)
        if facts is NOT_FOUND:
            raise hub.HubError(
                404, hub.ENTRY_NOT_FOUND, f"{request.filename} does not exist at {commit}.", commit
            )
        return facts

    async def _store_facts(self, request, commit, facts=None):
        values = {"exists": False}
        if facts is not None:
            values = {
                "exists": True,
                "etag": facts.etag,
                "size": facts.size,
                "lfs_sha256": facts.lfs_sha256,
            }
        try:
            await FileMetadata.objects.aupdate_or_create(
                remote=self.remote,
                repo_type=request.repo.repo_type,
                repo_id=request.repo.repo_id,
                commit=commit,
                path=request.filename,
                defaults=values,
            )
        except IntegrityError:
            pass  # another process stored the same immutable facts first

    async def file_facts(self, request):
        """(FileFacts, cache state) for a resolve request; raises `hub.HubError`."""
        commit, fresh = await self._known_commit(request.repo, request.revision)
        if commit and fresh:
            facts = await self._stored_facts(request, commit)
            if facts is not None:
                return facts, FRESH
        key = (self.remote.pk, "file", request.repo, request.revision, request.filename)
        try:
            facts = await self._shared(
                key, lambda: self._fresh_facts(request), lambda: self._fetch_facts(request)
            )
        except UpstreamUnavailable as exc:
            if commit:
                facts = await self._stored_facts(request, commit)
                if facts is not None:
                    log.warning(
                        "Upstream %s unavailable (%s): serving %s at %s from the cache (stale).",
                        self.remote.url,
                        exc,
                        request.filename,
                        commit,
                    )
                    return facts, STALE
            log.warning(
                "Upstream %s unavailable (%s) for %s.", self.remote.url, exc, request.path()
            )
            raise exc.hub_error()
        return facts, MISS

    async def _fresh_facts(self, request):
        commit, fresh = await self._known_commit(request.repo, request.revision)
        return await self._stored_facts(request, commit) if commit and fresh else None

    async def _fetch_facts(self, request):
        """One upstream HEAD; what it says about the commit and the file is kept."""
        try:
            facts = await self.upstream.file_facts(request, request.revision)
        except hub.HubError as error:
            if error.code == hub.ENTRY_NOT_FOUND and error.commit:
                await self._remember_commit(request.repo, request.revision, error.commit)
                await self._store_facts(request, error.commit)
            raise
        await self._remember_commit(request.repo, request.revision, facts.commit)
        await self._store_facts(request, facts.commit, facts)
        return facts

    # --- API answers --------------------------------------------------------------------------

    async def _stored_answer(self, key):
        """A stored API answer; all of them are about a commit, so they never change."""
        remembered = memory.answers.get((self.remote.pk, key))
        if remembered is not None:
            return Answer(remembered.status, remembered.headers, remembered.body, FRESH)
        generation = memory.generation
        entry = await ApiAnswer.objects.filter(remote=self.remote, key=key).afirst()
        if entry is None:
            return None
        answer = Answer(entry.status, entry.headers, bytes(entry.body), FRESH)
        if memory.keeps(generation):
            memory.answers.put((self.remote.pk, key), answer)
        return Answer(answer.status, answer.headers, answer.body, FRESH)

    async def _store_answer(self, key, repo, commit, answer):
        try:
            await ApiAnswer.objects.aupdate_or_create(
                remote=self.remote,
                key=key,
                defaults={
                    "repo_type": repo.repo_type,
                    "repo_id": repo.repo_id,
                    "commit": commit,
                    "status": answer.status,
                    "headers": answer.headers,
                    "body": answer.body,
                    "checked_at": timezone.now(),
                },
            )
        except IntegrityError:
            pass

    async def _fetch_info(self, repo, revision, query):
        key = (self.remote.pk, "info", repo, revision, query)
        return await self._shared(
            key,
            lambda: self._fresh_info(repo, revision, query),
            lambda: self._fetch_info_now(repo, revision, query),
        )

    async def _fresh_info(self, repo, revision, query):
        commit, fresh = await self._known_commit(repo, revision)
        if commit and fresh:
            return await self._stored_answer(_api_key("info", commit, query))
        return None

    async def _fetch_info_now(self, repo, revision, query):
        """Ask upstream for the repo info at a revision; store it under the commit it names."""
        request = hub.ApiRequest(repo, "info", revision or None)
        response = await self.upstream.fetch("GET", request.path(), query=list(query))
        info = response.json()
        commit = hub.info_commit(info, revision)
        body = json.dumps(hub.strip_xet_fields(info)).encode()
        answer = Answer(200, {"Content-Type": "application/json"}, body, MISS)
        await self._store_answer(_api_key("info", commit, query), repo, commit, answer)
        await self._remember_commit(repo, revision, commit)
        return answer

    async def info(self, repo, revision, query):
        """Repo info (`api/{type}s/{id}[/revision/{rev}]`), answered per commit."""
        revision = revision or DEFAULT_REVISION
        commit, fresh = await self._known_commit(repo, revision)
        if commit and fresh:
            stored = await self._stored_answer(_api_key("info", commit, query))
            if stored:
                return stored
        try:
            return await self._fetch_info(repo, revision, query)
        except UpstreamUnavailable as exc:
            if commit:
                stored = await self._stored_answer(_api_key("info", commit, query))
                if stored:
                    stored.cache = STALE
                    return stored
            raise exc.hub_error()

    async def current_info(self, repo, revision, query):
        """The repo info as upstream says it now (a prefetch must not take a cached branch);
        what is stored when upstream cannot answer (stale)."""
        try:
            return await self._fetch_info_now(repo, revision or DEFAULT_REVISION, query)
        except UpstreamUnavailable:
            return await self.info(repo, revision, query)

    async def refs(self, request, query):
        """The repo's branches, tags and PR refs: live, as upstream says now."""
        response = await self.upstream.fetch("GET", request.path(), query=list(query))
        if not isinstance(response.json(), dict):
            raise hub.upstream_refused("the refs are not a JSON object.")
        return Answer(200, {"Content-Type": "application/json"}, response.body, MISS)

    async def listing(self, request, commit, query, form=()):
        """tree / paths-info at a commit: immutable, fetched once per remote."""
        key = _api_key(request.endpoint, commit, request.subpath, query, form)
        stored = await self._stored_answer(key)
        if stored:
            return stored
        return await self._shared(
            (self.remote.pk, key),
            lambda: self._stored_answer(key),
            lambda: self._fetch_listing(request, commit, query, form, key),
        )

    async def _fetch_listing(self, request, commit, query, form, key):
        try:
            if request.endpoint == "paths-info":
                response = await self.upstream.fetch(
                    "POST", request.path(commit), data=list(form) or None
                )
            else:
                response = await self.upstream.fetch("GET", request.path(commit), query=list(query))
        except hub.HubError as error:
            if (error.status, error.code) != (404, hub.ENTRY_NOT_FOUND):
                raise
            # No such folder at this commit: as final as a listing (transformers asks for
            # `additional_chat_templates` on every load), so the next asker gets it from here.
            headers = {**error.headers(), "Content-Type": "application/json"}
            answer = Answer(error.status, headers, error.body(), MISS)
            await self._store_answer(key, request.repo, commit, answer)
            return answer
        entries = hub.listing_entries(response.json())
        headers = {"Content-Type": "application/json"}
        if link := hub.next_page_url(response.headers.get("link")):
            headers[NEXT_PAGE] = link  # as upstream gave it; rebased onto the cache when served
        body = json.dumps(hub.strip_xet_fields(entries)).encode()
        answer = Answer(200, headers, body, MISS)
        await self._store_answer(key, request.repo, commit, answer)
        await self._store_listed_facts(request.repo, commit, entries)
        return answer

    async def _store_listed_facts(self, repo, commit, entries):
        """A listing names each file's ETag and size: the HEADs that follow need no upstream."""
        rows = []
        for entry in entries:
            facts = hub.file_facts_from_entry(entry, commit)
            path = entry.get("path") if facts else None
            try:
                hub.validate_filename(path or "")
            except hub.HubError:
                continue
            rows.append(
                FileMetadata(
                    remote=self.remote,
                    repo_type=repo.repo_type,
                    repo_id=repo.repo_id,
                    commit=commit,
                    path=path,
                    exists=True,
                    etag=facts.etag,
                    size=facts.size,
                    lfs_sha256=facts.lfs_sha256,
                )
            )
        if rows:
            await FileMetadata.objects.abulk_create(rows, ignore_conflicts=True)
