"""One HTTP client setup per remote and process, for metadata requests and file bodies alike.

pulpcore's `DownloaderFactory` builds an aiohttp session from a remote's fields (`ca_cert`,
`client_cert`/`client_key`, `tls_validation`, `headers`, timeouts) and adds `proxy_url` with its
credentials and `rate_limit` per download. `HubClient` is that factory, kept once per remote
(and per change of the remote) in each process, so file downloads share one pooled session
instead of opening a new one per cold file, and metadata requests go through the very same
session, proxy, throttle and timeouts. A remote that is updated gets a new client; the old one
closes when its last request ends. Every client closes when the content app shuts down.
"""

import asyncio
import atexit
import contextlib
import logging
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin

import aiohttp

from pulpcore.plugin.download import DownloaderFactory

from . import hub, metrics
from .downloaders import (
    REDIRECT_STATUSES,
    HubDownloader,
    UpstreamProtocolError,
    origin,
    redirect_target,
)

log = logging.getLogger(__name__)

MAX_METADATA_BYTES = 64 * 1024 * 1024
MAX_REDIRECTS = 5
READ_CHUNK = 256 * 1024


class HubClient(DownloaderFactory):
    """pulpcore's downloader factory for one remote, plus what metadata requests need."""

    def __init__(self, remote):
        super().__init__(
            remote, downloader_overrides={"http": HubDownloader, "https": HubDownloader}
        )
        self.remote = remote
        self.hub_origin = origin(remote.url)
        self.active = 0
        self.retired = False

    @property
    def session(self):
        return self._session

    @property
    def throttler(self):
        return self.remote.download_throttler if self.remote.rate_limit else None

    def build(self, url, **kwargs):
        kwargs.setdefault("client", self)
        return super().build(url, **kwargs)

    def request_options(self, url):
        """Proxy and credentials for one request; the token only to the hub's own origin."""
        remote = self.remote
        options, headers = {}, {}
        if remote.proxy_url:
            options["proxy"] = remote.proxy_url
            if remote.proxy_username and remote.proxy_password:
                options["proxy_auth"] = aiohttp.BasicAuth(
                    remote.proxy_username, remote.proxy_password
                )
        if origin(url) == self.hub_origin:
            if remote.hf_token:
                headers["Authorization"] = f"Bearer {remote.hf_token}"
            elif remote.username:
                options["auth"] = aiohttp.BasicAuth(remote.username, remote.password or "")
        options["headers"] = headers
        return options

    def timeout(self):
        """A metadata request is bounded by `metadata_timeout` (a client HEAD waits 10 s)."""
        remote = self.remote
        total = remote.metadata_timeout or 8.0
        if remote.total_timeout:
            total = min(total, remote.total_timeout)
        return aiohttp.ClientTimeout(
            total=total,
            connect=remote.connect_timeout,
            sock_connect=remote.sock_connect_timeout,
            sock_read=remote.sock_read_timeout,
        )

    def acquire(self):
        self.active += 1

    def release(self):
        self.active -= 1
        if self.retired and self.active <= 0:
            self._close_soon()

    def retire(self):
        """Replaced by a newer client for the same remote: close once nothing uses it."""
        self.retired = True
        if self.active <= 0:
            self._close_soon()

    def _close_soon(self):
        if not self._session.closed:
            asyncio.get_running_loop().create_task(self._session.close())


_clients = {}  # event loop -> {remote pk: HubClient}


def client_for(remote):
    """The HubClient of this remote (as last saved) for the running event loop."""
    loop = asyncio.get_running_loop()
    clients = _clients.setdefault(loop, {})
    for stale_loop in [other for other in _clients if other.is_closed()]:
        del _clients[stale_loop]
    client = clients.get(remote.pk)
    if client is not None and client.remote.pulp_last_updated == remote.pulp_last_updated:
        return client
    if client is not None:
        client.retire()
    client = clients[remote.pk] = HubClient(remote)
    # pulpcore registers an atexit hook per factory, which keeps it alive for good; this one
    # is closed by `retire()` or `close_all()` instead.
    atexit.unregister(client._session_cleanup)
    return client


async def close_all(app=None):
    """Close every session of this process's event loop (content app shutdown)."""
    clients = _clients.pop(asyncio.get_running_loop(), {})
    for client in clients.values():
        if not client.session.closed:
            await client.session.close()


@contextlib.asynccontextmanager
async def ranged_body(remote, url, start, stop, size):
    """Bytes [start, stop) of the file of `size` bytes at `url` (its `resolve` URL), straight
    from upstream: an async iterator of pieces, or None when upstream does not answer with
    exactly that range (then nothing was sent to the client, which can still be served from
    the download). The hub's redirect to its CDN is followed as for a download; the token goes
    only to the hub's origin.
    """
    client = client_for(remote)
    client.acquire()
    try:
        response = await _open_range(client, url, start, stop)
        if response is None:
            yield None
            return
        try:
            exact = response.status == 206 and hub.is_content_range(
                response.headers.get("Content-Range"), start, stop, size
            )
            if not exact:
                log.warning(
                    "Upstream answered %s to a range of %s: not passed on.", response.status, url
                )
            yield response.content.iter_any() if exact else None
        finally:
            response.release()
    finally:
        client.release()


async def _open_range(client, url, start, stop):
    """The upstream response to a ranged GET of `url`, after redirects; None if none came."""
    asked, seen = url, {url}  # `asked` is logged: the CDN's URLs carry signatures
    try:
        if client.throttler:
            await client.throttler.acquire()
        for _ in range(MAX_REDIRECTS + 1):
            options = client.request_options(url)
            options["headers"].update(
                {"Range": f"bytes={start}-{stop - 1}", "Accept-Encoding": "identity"}
            )
            response = await client.session.get(url, allow_redirects=False, **options)
            metrics.upstream_request("range", response.status)
            if response.status not in REDIRECT_STATUSES:
                return response
            response.release()
            url = redirect_target(url, response.headers.get("Location"), seen)
        raise UpstreamProtocolError(f"More than {MAX_REDIRECTS} redirects.")
    except (aiohttp.ClientError, TimeoutError, UpstreamProtocolError) as exc:
        metrics.upstream_request("range", None)
        log.warning(
            "A range of %s could not be asked upstream: %s", asked, exc or type(exc).__name__
        )
        return None


class UpstreamUnavailable(Exception):
    """The hub could not answer (connection, timeout, 5xx, 429): a cached answer may stand in."""

    def __init__(self, message, status=None, retry_after=None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    def hub_error(self):
        status = 504 if self.status is None else 502
        if self.status == 429:
            status = 429
        return hub.HubError(
            status,
            hub.UPSTREAM_UNAVAILABLE,
            f"The upstream hub is unavailable: {self}",
            retry_after=self.retry_after if status == 429 else None,
        )


async def read_body(response, limit=MAX_METADATA_BYTES):
    """The whole body, however many pieces it arrives in, refused beyond `limit` bytes."""
    if response.content_length is not None and response.content_length > limit:
        raise hub.upstream_refused(f"the answer is larger than {limit} bytes.")
    pieces, size = [], 0
    async for piece in response.content.iter_chunked(READ_CHUNK):
        size += len(piece)
        if size > limit:
            raise hub.upstream_refused(f"the answer is larger than {limit} bytes.")
        pieces.append(piece)
    return b"".join(pieces)


@dataclass
class UpstreamResponse:
    status: int
    headers: dict
    body: bytes
    url: str

    def json(self):
        return hub.parse_json_answer(self.body)


class Upstream:
    """The remote's hub, as seen by the metadata requests of the content app."""

    def __init__(self, remote):
        self.remote = remote
        self.base = remote.url.rstrip("/")

    async def request(self, method, path, query=None, data=None, stop_at=None):
        """Send a request to `{hub}/{path}`; follow redirects within the hub's origin only.

        `stop_at(status, headers)` may end the redirect chain early (a resolve HEAD answered
        with a 302 to the CDN already carries everything).
        """
        client = client_for(self.remote)
        url = f"{self.base}/{path}"
        if query:
            url += "?" + urlencode(query, doseq=True)
        client.acquire()
        try:
            for _ in range(MAX_REDIRECTS + 1):
                status, headers, body = await self._send(client, method, url, data)
                if status == 407:  # the remote's proxy, not the hub: never the client's business
                    raise UpstreamUnavailable("the proxy refused the remote's credentials", 502)
                if status >= 500 or status == 429:
                    raise UpstreamUnavailable(
                        f"{method} answered {status}",
                        status=status,
                        retry_after=headers.get("retry-after"),
                    )
                if status in REDIRECT_STATUSES and not (stop_at and stop_at(status, headers)):
                    url = self._redirect_target(url, headers.get("location"))
                    continue
                return UpstreamResponse(status, headers, body, url)
        finally:
            client.release()
        raise hub.upstream_refused("too many redirects.")

    async def _send(self, client, method, url, data):
        options = client.request_options(url)
        options["headers"]["Accept-Encoding"] = "identity"
        try:
            if client.throttler:
                await client.throttler.acquire()
            async with client.session.request(
                method,
                url,
                data=data,
                allow_redirects=False,
                timeout=client.timeout(),
                **options,
            ) as response:
                metrics.upstream_metadata_request(method, response.status)
                headers = hub.lower_keys(response.headers)
                body = b""
                if method != "HEAD" and response.status not in REDIRECT_STATUSES:
                    body = await read_body(response)
                return response.status, headers, body
        except aiohttp.ClientHttpProxyError as exc:  # CONNECT refused by the remote's proxy
            raise UpstreamUnavailable(f"the proxy refused the connection ({exc.status})", 502)
        except aiohttp.ClientResponseError as exc:  # an answer aiohttp cannot parse
            problem = str(exc.message).splitlines()[0] if exc.message else exc.status
            raise UpstreamUnavailable(
                f"the answer{self._via(client)} is not valid HTTP ({problem})", status=502
            )
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            metrics.upstream_metadata_request(method, None)
            raise UpstreamUnavailable(f"{str(exc) or type(exc).__name__}{self._via(client)}")

    @staticmethod
    def _via(client):
        return " (through the remote's proxy)" if client.remote.proxy_url else ""

    def _redirect_target(self, url, location):
        try:
            target = urljoin(url, location or "")
            same_origin = origin(target) == origin(self.base)
        except ValueError:
            raise hub.upstream_refused("a redirect to an invalid URL.")
        if not location or not same_origin:
            raise hub.upstream_refused("the upstream hub redirected out of its origin.")
        return target

    async def file_facts(self, resolve_request, revision):
        """HEAD `resolve` upstream: the commit, ETag and size of a file, without its body."""
        response = await self.request(
            "HEAD",
            resolve_request.path(revision),
            stop_at=lambda status, headers: hub.file_facts_from_headers(headers) is not None,
        )
        if response.status >= 400:
            raise hub.error_from_upstream(response.status, response.headers)
        return hub.file_facts_or_error(response.headers)

    async def fetch(self, method, path, query=None, data=None):
        """An API answer; errors are raised in the hub's shape."""
        response = await self.request(method, path, query=query, data=data)
        if response.status >= 400:
            raise hub.error_from_upstream(response.status, response.headers)
        return response
