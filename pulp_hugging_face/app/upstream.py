"""Asking the hub for metadata, without blocking the content app's event loop."""

import asyncio
import json
import logging
import ssl
from dataclasses import dataclass
from urllib.parse import urlencode, urljoin

import aiohttp

from . import hub
from .downloaders import REDIRECT_STATUSES, origin

log = logging.getLogger(__name__)

MAX_METADATA_BYTES = 64 * 1024 * 1024
MAX_REDIRECTS = 5
USER_AGENT = "pulp-hugging-face (pull-through cache)"

_sessions = {}


def _session():
    """One pooled session per event loop (the content app runs one loop per process)."""
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=200, limit_per_host=100),
            headers={"User-Agent": USER_AGENT},
        )
        _sessions[loop] = session
    return session


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


@dataclass
class UpstreamResponse:
    status: int
    headers: dict
    body: bytes
    url: str

    def json(self):
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise hub.HubError(
                502, hub.UPSTREAM_UNAVAILABLE, "The upstream hub answered with invalid JSON."
            )


class Upstream:
    """The remote's hub, as seen by the metadata requests of the content app."""

    def __init__(self, remote):
        self.remote = remote
        self.base = remote.url.rstrip("/")
        self.origin = origin(self.base)
        self.timeout = aiohttp.ClientTimeout(total=remote.metadata_timeout or 8.0)

    def _request_options(self, url):
        headers = {"Accept-Encoding": "identity"}
        options = {"headers": headers, "allow_redirects": False, "timeout": self.timeout}
        if origin(url) == self.origin and self.remote.hf_token:
            headers["Authorization"] = f"Bearer {self.remote.hf_token}"
        if self.remote.proxy_url:
            options["proxy"] = self.remote.proxy_url
            if self.remote.proxy_username:
                options["proxy_auth"] = aiohttp.BasicAuth(
                    self.remote.proxy_username, self.remote.proxy_password or ""
                )
        if not self.remote.tls_validation:
            options["ssl"] = False
        elif self.remote.ca_cert:
            options["ssl"] = ssl.create_default_context(cadata=self.remote.ca_cert)
        return options

    async def request(self, method, path, query=None, data=None, stop_at=None):
        """Send a request to `{hub}/{path}`; follow redirects within the hub's origin only.

        `stop_at(status, headers)` may end the redirect chain early (a resolve HEAD answered
        with a 302 to the CDN already carries everything).
        """
        url = f"{self.base}/{path}"
        if query:
            url += "?" + urlencode(query, doseq=True)
        for _ in range(MAX_REDIRECTS + 1):
            try:
                async with _session().request(
                    method, url, data=data, **self._request_options(url)
                ) as response:
                    headers = {name.lower(): value for name, value in response.headers.items()}
                    status = response.status
                    if method == "HEAD" or status in REDIRECT_STATUSES:
                        body = b""
                    else:
                        body = await response.content.read(MAX_METADATA_BYTES + 1)
                        if len(body) > MAX_METADATA_BYTES:
                            raise hub.HubError(
                                502, hub.UPSTREAM_UNAVAILABLE, "Upstream metadata answer too large."
                            )
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise UpstreamUnavailable(type(exc).__name__ if not str(exc) else str(exc))
            if status >= 500 or status == 429:
                raise UpstreamUnavailable(
                    f"{method} answered {status}",
                    status=status,
                    retry_after=headers.get("retry-after"),
                )
            if status in REDIRECT_STATUSES and not (stop_at and stop_at(status, headers)):
                location = headers.get("location")
                target = urljoin(url, location or "")
                if not location or origin(target) != self.origin:
                    raise hub.HubError(
                        502,
                        hub.UPSTREAM_UNAVAILABLE,
                        "The upstream hub redirected out of its origin.",
                    )
                url = target
                continue
            return UpstreamResponse(status, headers, body, url)
        raise hub.HubError(502, hub.UPSTREAM_UNAVAILABLE, "Too many upstream redirects.")

    async def file_facts(self, resolve_request, revision):
        """HEAD `resolve` upstream: the commit, ETag and size of a file, without its body."""
        response = await self.request(
            "HEAD",
            resolve_request.path(revision),
            stop_at=lambda status, headers: hub.file_facts_from_headers(headers) is not None,
        )
        if response.status >= 400:
            raise hub.error_from_upstream(response.status, response.headers)
        facts = hub.file_facts_from_headers(response.headers)
        if facts is None:
            raise hub.HubError(
                502,
                hub.UPSTREAM_UNAVAILABLE,
                "The upstream answer lacks X-Repo-Commit, ETag or size headers.",
            )
        return facts

    async def fetch(self, method, path, query=None, data=None):
        """An API answer; errors are raised in the hub's shape."""
        response = await self.request(method, path, query=query, data=data)
        if response.status >= 400:
            raise hub.error_from_upstream(response.status, response.headers)
        return response
