"""Downloading file bodies from the hub for pulpcore's pull-through machinery."""

import asyncio
import hashlib
import logging
import os
from urllib.parse import urljoin, urlsplit

import aiohttp

from pulpcore.plugin.download import DownloadResult, HttpDownloader
from pulpcore.plugin.exceptions import DigestValidationError

from . import metrics

log = logging.getLogger(__name__)

REDIRECT_STATUSES = (301, 302, 303, 307, 308)
BATCH = 1024 * 1024  # bytes written and hashed at a time
MAX_REDIRECTS = 10
# The only upstream (CDN) headers a client may see: anything else could be an ETag that is
# not the hub's, an Xet switch, or a cookie.
PASSED_ON_HEADERS = ("content-length", "content-type", "content-range", "last-modified")


class UpstreamProtocolError(Exception):
    """The upstream answer is not something a hub would send (bad redirect, loop, ...)."""


class PartialStreamError(Exception):
    """The upstream body broke after bytes went to the client: retrying would corrupt them."""


def origin(url):
    parts = urlsplit(url)
    return (parts.scheme.lower(), parts.hostname, parts.port)


def redirect_target(url, location, seen):
    """Where a redirect of a file body leads (the hub's CDN, on any http(s) origin); `seen`, the
    URLs of the chain so far, gains it. A missing or non-HTTP location or a loop is refused."""
    if not location:
        raise UpstreamProtocolError(f"Redirect without Location from {url}")
    target = urljoin(url, location)
    if urlsplit(target).scheme.lower() not in ("http", "https"):
        raise UpstreamProtocolError("Redirect to a non-HTTP location refused.")
    if target in seen:
        raise UpstreamProtocolError("Redirect loop.")
    seen.add(target)
    return target


class HubDownloader(HttpDownloader):
    """An HttpDownloader that follows redirects itself.

    The hub answers `resolve` of an LFS file with a redirect to a CDN on another host. The
    remote's token (and basic auth) go only to the hub's own origin; a redirect may only lead
    to http(s), and a loop or a long chain is an error, not a hang. A file that is not in LFS
    is checked against its git blob id (the hub's ETag for it), as an LFS file is against its
    sha256, so no file is stored that is not what this remote's hub says it is.
    """

    def __init__(
        self,
        url,
        hub_url=None,
        hub_token=None,
        target_path=None,
        on_data=None,
        on_verified=None,
        client=None,
        expected_git_blob_sha1=None,
        **kwargs,
    ):
        self.hub_origin = origin(hub_url or url)
        self.hub_token = hub_token
        self.target_path = target_path  # where to write: readers follow this file as it grows
        self.on_data = on_data  # called after each chunk is on disk
        self.on_verified = on_verified  # called once every byte is written and checked
        self.client = client  # the HubClient whose pooled session this download uses
        self.expected_git_blob_sha1 = expected_git_blob_sha1
        self.git_blob_sha1 = None
        self._git_hasher = None
        self._emitted = False
        callback = kwargs.pop("headers_ready_callback", None)
        if callback is not None:

            async def filtered_callback(headers):
                await callback({k: v for k, v in headers.items() if k.lower() in PASSED_ON_HEADERS})

            kwargs["headers_ready_callback"] = filtered_callback
        super().__init__(url, **kwargs)

    async def handle_data(self, data):
        """Write and hash a batch of the body off the event loop, in two threads at once (file
        writes and hashlib release the GIL), while the loop serves other requests and receives
        the next batch."""
        self._ensure_writer_has_open_file()
        self._emitted = True
        await asyncio.gather(
            asyncio.to_thread(self._write, data), asyncio.to_thread(self._hash, data)
        )
        self._size += len(data)
        metrics.upstream_bytes(len(data))
        if self.on_data is not None:
            self.on_data()

    def _write(self, data):
        self._writer.write(data)
        self._writer.flush()  # once per batch: readers follow the file as it grows

    def _hash(self, data):
        for hasher in self._digests.values():
            hasher.update(data)
        if self.expected_git_blob_sha1 is not None:
            if self._git_hasher is None:
                # A git blob id is the sha1 of "blob <size>\0" + bytes; a wrong size fails anyway.
                self._git_hasher = hashlib.sha1(b"blob %d\0" % (self.expected_size or 0))
            self._git_hasher.update(data)

    def _ensure_writer_has_open_file(self):
        opening = self._writer is None
        super()._ensure_writer_has_open_file()
        if opening and self.target_path:
            # pulpcore opened a temporary file of its own; write where the readers look instead.
            self._writer.close()
            os.unlink(self._writer.name)
            self._writer = open(self.target_path, "wb")  # noqa: SIM115 (closed by finalize)
            self.path = self.target_path

    def _ensure_no_broken_file(self):
        if self.target_path and self._writer is not None:
            self._writer.close()  # reopened (truncated) by the next attempt
            self._writer = None
        super()._ensure_no_broken_file()
        self._git_hasher = None

    async def finalize(self):
        """pulpcore's finalize (flush, fsync, close, check size and digests), with the checks
        first (a wrong body is not worth an fsync), the fsync off the event loop, and the git
        blob id checked too.

        The digests were computed as the bytes streamed, so the checks read nothing;
        `on_verified` is told when they passed, before the fsync (a quarter of a second for
        100 MB on a slow disk)."""
        self._ensure_writer_has_open_file()
        writer, self._writer = self._writer, None
        try:  # every batch was flushed as it was written (`_write`): readers have each byte
            self.validate_digests()
            self.validate_size()
            self._validate_git_blob_sha1()
        except BaseException:
            writer.close()
            raise
        if self.on_verified is not None:
            self.on_verified()
        await asyncio.to_thread(_sync_and_close, writer)

    def _validate_git_blob_sha1(self):
        if self.expected_git_blob_sha1 is None:
            return
        if self._git_hasher is None:
            self._git_hasher = hashlib.sha1(b"blob 0\0")  # an empty file
        self.git_blob_sha1 = self._git_hasher.hexdigest()
        if self.git_blob_sha1 != self.expected_git_blob_sha1:
            raise DigestValidationError(
                self.git_blob_sha1, self.expected_git_blob_sha1, url=self.url
            )

    async def run(self, extra_data=None):
        if self.client is None:
            return await super().run(extra_data=extra_data)
        self.client.acquire()
        try:
            return await super().run(extra_data=extra_data)
        finally:
            self.client.release()

    def _request_headers(self, url):
        if self.hub_token and origin(url) == self.hub_origin:
            return {"Authorization": f"Bearer {self.hub_token}"}
        return {}

    async def _run(self, extra_data=None):
        if self._emitted:
            # pulpcore retries failed downloads from byte 0; the client has bytes already.
            raise PartialStreamError(f"Download of {self.url} broke mid-stream.")
        if self.download_throttler:
            await self.download_throttler.acquire()
        url = self.url
        seen = {url}
        for _ in range(MAX_REDIRECTS + 1):
            same_origin = origin(url) == self.hub_origin
            request_kwargs = {
                "proxy": self.proxy,
                "proxy_auth": self.proxy_auth,
                "auth": self.auth if same_origin else None,
                "headers": self._request_headers(url),
                "allow_redirects": False,
            }
            async with self.session.get(url, **request_kwargs) as response:
                metrics.upstream_request("file", response.status)
                if response.status in REDIRECT_STATUSES:
                    url = redirect_target(url, response.headers.get("Location"), seen)
                    continue
                self.raise_for_status(response)
                try:
                    result = await self._handle_response(response)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    if self._emitted:
                        raise PartialStreamError(str(exc) or type(exc).__name__) from exc
                    raise
                await response.release()
                return result
        raise UpstreamProtocolError(f"More than {MAX_REDIRECTS} redirects.")

    async def _handle_response(self, response):
        """The body in batches of `BATCH` bytes (the socket gives pieces of 16 to 64 KiB), and
        whether any of it reached readers (then a retry from byte 0 would corrupt them)."""
        if self.headers_ready_callback:
            await self.headers_ready_callback(response.headers)
        # One batch is written and hashed while the next one arrives.
        pending, pending_size, handling = [], 0, None
        try:
            async for piece in response.content.iter_any():
                pending.append(piece)
                pending_size += len(piece)
                if pending_size >= BATCH:
                    if handling is not None:
                        await handling
                    handling = asyncio.ensure_future(self.handle_data(b"".join(pending)))
                    pending, pending_size = [], 0
        finally:
            if handling is not None:
                await handling
        if pending:
            await self.handle_data(b"".join(pending))
        await self.finalize()
        return DownloadResult(
            path=self.path,
            artifact_attributes=self.artifact_attributes,
            url=self.url,
            headers=response.headers,
        )


def _sync_and_close(writer):
    writer.flush()
    os.fsync(writer.fileno())
    writer.close()
