"""One upstream download per file for every content app of every host; many readers meanwhile.

The first process that needs a file body that is not stored takes the file's lease (`leases`)
and downloads it into a temporary file in a directory that every content app can read
(`inflight_dir`: beside the artifacts for filesystem storage, which several hosts share anyway).
Every other request for the file, in this process, another process or on another host, reads
that temporary file as it grows: a client gets the bytes as they arrive and never waits for the
end (its read timeout is 10 s). The last byte is handed out only once the download is verified
(size, and sha256 or git blob id), so no client gets a complete but corrupt file; for all but
large files only once it is stored, too (`Download.complete`).
When the leader stops beating its heartbeat (killed, host gone), a follower takes the lease
over and downloads the file again; readers carry on from where they are, in the new file.

Why the shared file, not the leader's content app: it needs no address of the leader, works
the same within a process and across hosts, and the file moves into storage without a copy.
"""

import asyncio
import contextlib
import errno
import logging
import os
import shutil
import time
from pathlib import Path

from aiohttp import ClientConnectionError, ClientResponseError, web
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError

from pulpcore.plugin.exceptions import DigestValidationError, SizeValidationError
from pulpcore.plugin.models import ContentArtifact, RemoteArtifact

from . import hub, leases, metrics, upstream
from .downloaders import UpstreamProtocolError
from .memory import Bounded, memory
from .models import CachedFile, HuggingFaceContent
from .upstream import UpstreamUnavailable

log = logging.getLogger(__name__)

CHUNK_SIZE = 1024 * 1024
EARLY_END_SIZE = 64 * 1024 * 1024  # files this large are handed out whole before they are stored
FOLLOW_POLL = 0.2  # seconds between a follower's looks at the lease (and readers at the file)
# A range that begins this far beyond the bytes a download has, and that the download would not
# reach within RANGE_WAIT seconds at its pace, is fetched from upstream on its own (`range_apart`).
FAR_RANGE = 8 * 1024 * 1024
RANGE_WAIT = 3.0
# A download file nobody has written to for this long, and that no live lease names, was left by
# a content app that stopped (killed mid-download, with no follower to take the download over).
LEFTOVER_AGE = 15 * 60
SWEEP_INTERVAL = 10 * 60  # seconds between a content process's looks for leftovers
FILESYSTEM_STORAGE = "pulpcore.app.models.storage.FileSystem"
DOWNLOAD_ERRORS = (ClientResponseError, ClientConnectionError, TimeoutError, UpstreamProtocolError)
VALIDATION_ERRORS = (DigestValidationError, SizeValidationError)


def range_apart(start, downloaded, rate):
    """Whether a range that begins at byte `start` is fetched from upstream on its own rather
    than read from the download in progress, which holds `downloaded` bytes and grows by `rate`
    bytes a second (None: not known yet).

    A reader of the download waits for it to reach the range: a client reading the end of a
    large cold file (a parquet footer, a safetensors shard's last tensor) would wait for the
    whole file and, behind a slow hub, time out (its read timeout is 10 s). Fetching a near
    range apart would only ask upstream for bytes that are about to arrive.
    """
    gap = start - downloaded
    if gap <= FAR_RANGE:
        return False
    return rate is None or gap / rate > RANGE_WAIT


def inflight_dir(domain):
    """Where downloads in progress are written: readable by every content app.

    `HUGGING_FACE_INFLIGHT_DIR` if set; else, for filesystem storage, `MEDIA_ROOT/hf-inflight`
    (hosts that serve one filesystem storage share it, and files move into storage by rename);
    else `WORKING_DIRECTORY/hf-inflight` (shared within a host).
    """
    base = _inflight_place(domain.storage_class == FILESYSTEM_STORAGE)
    base.mkdir(parents=True, exist_ok=True)
    return base


def _inflight_place(filesystem_storage):
    configured = getattr(settings, "HUGGING_FACE_INFLIGHT_DIR", None)
    if configured:
        return Path(configured)
    root = settings.MEDIA_ROOT if filesystem_storage else settings.WORKING_DIRECTORY
    return Path(root) / "hf-inflight"


def leftovers(files, now, live):
    """The download files to remove, of `files` ((path, mtime) pairs): those untouched for
    LEFTOVER_AGE seconds that no running lease names. `live(paths)` says which of the old ones
    running leases name; it is asked only when some file is old."""
    old = [path for path, mtime in files if now - mtime > LEFTOVER_AGE]
    if not old:
        return []
    named = live(old)
    return [path for path in old if path not in named]


def _inflight_dirs():
    """Every place `inflight_dir` puts downloads, whatever the domain's storage."""
    places = {_inflight_place(filesystem_storage) for filesystem_storage in (True, False)}
    return [place for place in places if place.is_dir()]


def sweep_leftovers():
    """Remove the download files that content apps which stopped left behind; their leases
    ended or their leaders stopped beating, so no reader follows them any more."""
    files = []
    for place in _inflight_dirs():
        for entry in os.scandir(place):
            if entry.name.endswith(".part"):
                with contextlib.suppress(FileNotFoundError):
                    files.append((entry.path, entry.stat().st_mtime))
    removed = freed = 0
    for path in leftovers(files, time.time(), leases.live_paths):
        with contextlib.suppress(FileNotFoundError):  # another process removed it first
            size = os.path.getsize(path)
            os.unlink(path)
            removed, freed = removed + 1, freed + size
    if removed:
        log.info(
            "Removed %d download files left by stopped content apps (%d bytes).", removed, freed
        )


async def sweeping(app):
    """The content app's cleanup context: look for leftovers at start and every SWEEP_INTERVAL."""

    async def sweep_forever():
        while True:
            try:
                await sync_to_async(sweep_leftovers)()
            except (DatabaseError, OSError) as exc:  # the database or the disk is away
                log.warning("Could not look for leftover downloads: %s", exc)
            await asyncio.sleep(SWEEP_INTERVAL)

    task = asyncio.get_running_loop().create_task(sweep_forever())
    yield
    task.cancel()


def no_room(detail):
    return hub.HubError(
        507, None, f"The cache has no room for this file: {detail}. Cached files are still served."
    )


def check_room(domain, path, size):
    """A 507 before a download that cannot fit (asks nothing upstream, stores nothing).

    Checked where the download is written and, for filesystem storage, where it is stored.
    Several downloads may still together outrun the space: the disk's own error is a 507 too.
    """
    places = {os.path.dirname(path)}
    if domain.storage_class == FILESYSTEM_STORAGE:
        places.add(str(settings.MEDIA_ROOT))
    for place in places:
        free = shutil.disk_usage(place).free
        if size is not None and free < size:
            raise no_room(f"{size} bytes needed, {free} free")


def download_error(exc):
    """The HF-style error a client gets for a failed download (before its first byte)."""
    if isinstance(exc, hub.HubError):
        return exc
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return no_room("its storage is full")
    if isinstance(exc, UpstreamUnavailable):
        return exc.hub_error()
    if isinstance(exc, ClientResponseError):
        return hub.HubError(
            502, hub.UPSTREAM_UNAVAILABLE, f"Upstream answered {exc.status} for the file."
        )
    if isinstance(exc, UpstreamProtocolError):
        return hub.upstream_refused(str(exc))
    return UpstreamUnavailable(str(exc) or type(exc).__name__).hub_error()


class Download:
    """A file body download as this process sees it: led here, or followed from elsewhere."""

    def __init__(self, size):
        self.size = size
        self.path = None  # the temporary file readers follow (changes when a lease is taken over)
        self.verified = False  # every byte is written and checked (not yet stored)
        self.finished = False
        self.error = None  # a hub.HubError
        self.task = None
        self._changed = asyncio.Event()
        self._first_look = None  # (time, bytes) when a reader first asked for the pace

    def downloaded(self):
        """Bytes in the file readers follow now (0 before it has one)."""
        try:
            return os.stat(self.path).st_size if self.path else 0
        except FileNotFoundError:  # moved into storage, or replaced by a new leader's
            return 0

    def rate(self, downloaded):
        """Bytes a second the download grows by, as seen since the first call; None at first."""
        now = asyncio.get_running_loop().time()
        if self._first_look is None:
            self._first_look = now, downloaded
            return None
        then, before = self._first_look
        return (downloaded - before) / (now - then) if now - then >= 0.5 else None

    @property
    def succeeded(self):
        return self.finished and self.error is None

    def notify(self):
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def follow(self, path):
        if path != self.path:
            self.path = path
            self.notify()

    def verify(self):
        self.verified = True
        self.notify()

    def finish(self, error=None):
        self.finished, self.error = True, error
        self.verified = self.verified or error is None
        self.notify()

    @property
    def complete(self):
        """May readers hand out the last byte? A corrupt file never completes. A small file
        completes once stored, so a client that has it finds it in the cache (and in the API);
        a large one once checked, while the fsync (a quarter of a second per 100 MB on a slow
        disk) and the database writes go on: any request meanwhile follows this download."""
        if self.size is not None and self.size >= EARLY_END_SIZE:
            return self.verified
        return self.succeeded

    async def changed(self, timeout=FOLLOW_POLL):
        """Wait for news from the leader here, or for a follower's next look."""
        if not self.finished:
            try:
                await asyncio.wait_for(self._changed.wait(), timeout)
            except TimeoutError:
                pass


_downloads = {}


def download(remote, url, size, domain, fetch, stored):
    """This process's `Download` of `url` for `remote`: the one under way, or a new one.

    `fetch(path, download)` downloads into `path`, verifies and stores the file; it runs only
    in the process that leads. `stored()` says whether the file is in storage now (truthy).
    """
    key = (remote.pk, url)
    current = _downloads.get(key)
    if current is not None:
        return current
    current = _downloads[key] = Download(size)

    async def run():
        try:
            await _run(current, remote, url, domain, fetch, stored)
        except BaseException as exc:
            if not current.finished:
                current.finish(download_error(exc))
            if not isinstance(exc, Exception):
                raise  # cancelled: the process is shutting down
            log.warning("Download of %s failed: %s", url, exc or type(exc).__name__)
        finally:
            if _downloads.get(key) is current:
                del _downloads[key]

    current.task = asyncio.get_running_loop().create_task(run())
    return current


def _new_path(domain, lease_key):
    name = f"{lease_key[:32]}-{leases.PROCESS.replace(':', '-')}-{os.urandom(4).hex()}.part"
    return str(inflight_dir(domain) / name)


def _create(path):
    # The file exists before anyone can find it in a lease: readers elsewhere never race it.
    open(path, "wb").close()
    return path


async def _run(current, remote, url, domain, fetch, stored):
    key = leases.lease_key("body", url)
    path = _create(_new_path(domain, key))
    lease = await leases.acquire(remote, key, path)
    if not lease.mine:
        os.unlink(path)
    stale_paths = []
    while not lease.mine:
        lease, stale_path = await _follow(current, lease, remote, key, domain)
        if lease is None:
            return
        stale_paths.append(stale_path)
    try:
        # The caller found nothing stored before this download began; a lease that ended in
        # between (here or in another process) may have stored it: then nothing to download.
        if await stored():
            await _land_without_downloading(current, lease)
            return
        await _lead(current, lease, fetch, domain)
    finally:
        for stale in stale_paths:  # the file of a leader that stopped
            if stale and os.path.exists(stale):
                os.unlink(stale)


async def _land_without_downloading(current, lease):
    if os.path.exists(lease.path):
        os.unlink(lease.path)
    await lease.finish()
    current.finish()


async def _lead(current, lease, fetch, domain):
    current.follow(lease.path)
    beating = asyncio.get_running_loop().create_task(lease.keep_alive())
    metrics.download_started()
    try:
        check_room(domain, lease.path, current.size)
        await fetch(lease.path, current)
    except BaseException as exc:
        error = download_error(exc)
        await asyncio.shield(lease.finish(error=leases.outcome_of(error)))
        current.finish(error)
        raise
    finally:
        metrics.download_finished()
        beating.cancel()
        if os.path.exists(lease.path):  # moved into storage on success; removed on failure
            os.unlink(lease.path)
    await lease.finish()
    current.finish()


async def _follow(current, lease, remote, key, domain):
    """Follow another process's download until it ends: (None, None); or until this process
    leads: (its Lease, the file of the leader it replaces)."""
    while True:
        if lease.path != current.path:
            if not os.path.exists(lease.path):
                action, row = await leases.watch(lease)
                unseen = (
                    action == leases.FOLLOW and lease.path and not leases.on_this_host(row.leader)
                )
                if unseen:
                    # The leader's file is not visible here (another host, no shared directory):
                    # download here rather than make this process's clients wait for the end.
                    # On this host a missing file is one just stored (or being replaced): the
                    # lease says how it ended, below.
                    log.warning("Cannot read %s of another content app: downloading.", lease.path)
                    return leases.private(_create(_new_path(domain, key))), None
            else:
                current.follow(lease.path)
        await asyncio.sleep(FOLLOW_POLL)
        action, row = await leases.watch(lease)
        if action == leases.FINISHED:
            error = leases.error_of(row.outcome) if row.state == leases.FAILED else None
            current.finish(error and download_error(error))
            return None, None
        if action == leases.TAKE_OVER:  # the leader stopped beating
            path = _create(_new_path(domain, key))
            taken = await leases.take_over(row, path) if row else None
            if taken is not None:
                return taken, lease.path
            os.unlink(path)
            lease = await leases.join(remote, key, "", lease.generation)
            if lease.mine:  # a lease nobody works on any more: lead it in a file of its own
                await lease.move(_create(_new_path(domain, key)))
                return lease, None
        else:
            lease = leases.Lease(row.pk, row.generation, False, row.path)
        current.notify()  # the file may have grown: readers look again


async def fetch_and_store(handler, remote, url, relative_path, facts, repository, path, current):
    """Download a file into `path`, verify it, store it as content (and in the repository).

    pulpcore's downloader and pull-through bookkeeping do the work (artifact, content unit,
    RemoteArtifact); `handler` is the content app's handler, whose `_save_artifact` stores.
    """
    content_artifact = ContentArtifact(relative_path=relative_path)
    remote_artifact = RemoteArtifact(
        remote=remote,
        url=url,
        content_artifact=content_artifact,
        size=facts.size,
        sha256=facts.lfs_sha256,
    )
    downloader = remote.get_downloader(
        remote_artifact=remote_artifact,
        target_path=path,
        on_data=current.notify,
        on_verified=current.verify,
        expected_git_blob_sha1=facts.git_blob_sha1,
    )
    # A wrong size or digest is final: readers already have the bytes, no retry.
    result = await downloader.run(extra_data={"disable_retry_list": VALIDATION_ERRORS})
    try:
        saved = await sync_to_async(_store)(
            handler, result, remote_artifact, downloader.git_blob_sha1
        )
    except FileNotFoundError:
        # Our file was removed under us: another process took the download over (this one's
        # heartbeat was late) and, having stored the same verified bytes, removed the file of
        # the leader it replaced. Readers here hold the verified bytes open: they are done.
        if not await _stored_for(remote, url):
            raise
        log.warning("Download of %s was stored by the process that took it over.", url)
        return
    await record_in_repository(repository, saved[relative_path])


def stored_files(remote, url, repo=None, path=None, facts=None, domain_pk=None):
    """The files with stored bytes that `remote` serves at `url` (ContentArtifacts).

    The cache is per remote (`RemoteArtifact`). With `facts`, only those whose bytes are what
    the remote's hub says now (`HuggingFaceContent.matching`): bytes another hub gave for the
    same commit are never served through this remote. Facts without a digest to compare with
    leave the remote's own download.
    """
    query = ContentArtifact.objects.filter(
        remoteartifact__remote=remote, remoteartifact__url=url, artifact__isnull=False
    )
    if facts is not None:
        units = HuggingFaceContent.matching(repo, facts, path, domain_pk)
        if units is not None:
            query = query.filter(content__in=units.values("pk"))
    return query


async def _stored_for(remote, url):
    return await stored_files(remote, url).aexists()


async def record_in_repository(repository, content_artifact):
    """Add a served file to the distribution's repository (a task), unless it is there.

    What is in the repository is remembered until the repository announces a new version.
    """
    if repository is None or not repository.PULL_THROUGH_SUPPORTED:
        return
    key = (repository.pk, content_artifact.content_id)
    if memory.in_repository.get(key):
        return
    generation = memory.generation
    await repository.async_pull_through_add_content(content_artifact)
    if memory.keeps(generation):
        memory.in_repository.put(key, True)


def missing_from_disk(content_artifact):
    """True when a stored file on filesystem storage is no longer there (removed meanwhile)."""
    path = filesystem_path(content_artifact.artifact)
    return path is not None and not os.path.exists(path)


_paths = Bounded(100_000)  # (domain pk, artifact file name) -> path: a pure function of them


def filesystem_path(artifact):
    """Where an artifact on filesystem storage is (None for other storage)."""
    domain = artifact.pulp_domain
    if domain.storage_class != FILESYSTEM_STORAGE:
        return None
    key = (domain.pk, artifact.file.name)
    path = _paths.get(key)
    if path is None:
        path = domain.get_storage().path(artifact.file.name)
        _paths.put(key, path)
    return path


def _store(handler, result, remote_artifact, git_blob_sha1):
    """pulpcore's artifact and content bookkeeping, plus the unit's git blob id, and the file
    kept in the remote's cache (safe from orphan cleanup: `CachedFile`)."""
    saved = handler._save_artifact(result, remote_artifact)
    content_ids = [ca.content_id for ca in saved.values()]
    CachedFile.objects.bulk_create(
        [CachedFile(remote=remote_artifact.remote, content_id=pk) for pk in content_ids],
        ignore_conflicts=True,
    )
    if git_blob_sha1:
        HuggingFaceContent.objects.filter(pk__in=content_ids, git_blob_sha1__isnull=True).update(
            git_blob_sha1=git_blob_sha1
        )
    return saved


async def stream(request, current, headers, fetch_range=None):
    """Stream a file (or the requested range) from a download in progress.

    Returns None when the download already ended well (the caller serves it from storage).
    Before the first byte an upstream failure is an HF-style error; after it, the connection is
    cut, so the client never mistakes a broken file for a whole one. A range far ahead of the
    download (`range_apart`) is answered by `fetch_range(start, stop, headers)`, a ranged
    request upstream, when that answers (not None).
    """
    size = current.size
    try:
        requested = request.http_range.start, request.http_range.stop
    except ValueError:
        requested = None
    span = hub.byte_span(requested, size)
    if span is None:
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    start, stop, ranged = span
    if ranged and fetch_range is not None and not current.finished:
        downloaded = current.downloaded()
        far = range_apart(start, downloaded, current.rate(downloaded))
        if far and (response := await fetch_range(start, stop, headers)) is not None:
            return response

    while current.path is None and not current.finished:
        await current.changed()
    if current.succeeded:
        return None
    if current.path is None:
        raise current.error
    reader = _Reader(current)
    if not await reader.open():
        return None
    try:
        # Until the first byte arrives, an upstream failure is still an HF-style error.
        while not current.finished and await reader.available() == 0:
            await current.changed()
            await reader.follow()
        if current.finished and not current.succeeded:
            raise current.error
        response = web.StreamResponse(status=206 if ranged else 200, headers=headers)
        response.content_length = stop - start
        if ranged:
            response.headers["Content-Range"] = hub.content_range(start, stop, size)
        await response.prepare(request)
        position = start
        while position < stop:
            await reader.follow()
            # The last byte waits until the download is complete (checked, or stored).
            limit = min(await reader.available(), stop)
            if not current.complete:
                limit = min(limit, size - 1)
            if position < limit:
                sent = await _send(request, response, reader, position, limit - position)
                position += sent
                if not sent:  # the file is not as long as it looked: wait for the leader
                    await current.changed()
            elif current.finished and not current.succeeded:
                log.warning("Upstream download for %s failed: %s", request.path, current.error)
                _cut(request)
                return response
            else:
                await current.changed()
        await response.write_eof()
        return response
    finally:
        await reader.close()


async def stream_apart(request, remote, url, size, start, stop, headers):
    """Answer a range of a file from upstream on its own (see `range_apart`), not stored; None
    when upstream does not answer that range as asked. A body that breaks or runs long is cut,
    so the client never mistakes it for the range it asked for."""
    async with upstream.ranged_body(remote, url, start, stop, size) as body:
        if body is None:
            return None
        response = web.StreamResponse(status=206, headers=headers)
        response.content_length = stop - start
        response.headers["Content-Range"] = hub.content_range(start, stop, size)
        await response.prepare(request)
        sent = 0
        try:
            async for piece in body:
                sent += len(piece)
                if sent > stop - start:
                    break
                metrics.upstream_bytes(len(piece))
                await response.write(piece)
        except DOWNLOAD_ERRORS as exc:
            log.warning("A range of %s broke upstream: %s", url, exc or type(exc).__name__)
        if sent != stop - start:
            _cut(request)
            return response
        await response.write_eof()
        return response


def _cut(request):
    """End the answer short: the client sees a broken transfer, never a whole one."""
    if request.transport is not None:  # None: the client went away already
        request.transport.close()


async def _send(request, response, reader, position, length):
    """Send `length` bytes of the file from `position`: by the kernel (sendfile) where the
    event loop can, else read in a thread and written. Returns how many were sent."""
    global _sendfile_works
    if _sendfile_works:
        loop = asyncio.get_running_loop()
        if request.transport is None:  # as aiohttp's own writes say it
            raise ConnectionResetError("Cannot write to closing transport")
        try:
            return await loop.sendfile(
                request.transport, reader.file, position, length, fallback=False
            )
        except (NotImplementedError, asyncio.SendfileNotAvailableError):
            _sendfile_works = False  # this event loop or transport has none (uvloop, TLS)
    chunk = await reader.read(position, min(length, CHUNK_SIZE))
    await response.write(chunk)
    return len(chunk)


_sendfile_works = True


class _Reader:
    """The temporary file of a download, reopened when another process takes it over."""

    def __init__(self, current):
        self.current = current
        self.path = None
        self.file = None

    async def open(self):
        """Open the file readers follow; False when the download ended well meanwhile."""
        while True:
            try:
                # The open descriptor outlives the file's move into storage.
                self.file = await asyncio.to_thread(open, self.current.path, "rb")
                self.path = self.current.path
                return True
            except FileNotFoundError:
                if self.current.succeeded:
                    return False  # stored meanwhile: served from storage
                if self.current.finished:
                    raise self.current.error
                await self.current.changed()

    async def follow(self):
        if self.current.path != self.path:
            try:
                replacement = await asyncio.to_thread(open, self.current.path, "rb")
            except FileNotFoundError:
                return  # not created yet by the new leader: keep reading the old one
            self.file.close()
            self.file, self.path = replacement, self.current.path

    async def available(self):
        return os.fstat(self.file.fileno()).st_size

    async def read(self, position, length):
        return await asyncio.to_thread(os.pread, self.file.fileno(), length, position)

    async def close(self):
        if self.file is not None:
            self.file.close()
