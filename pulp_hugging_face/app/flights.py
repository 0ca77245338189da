"""One upstream download per file and content-app process, streamed to every client meanwhile.

The first request for a file that is not stored starts a download in the background; it and
every request for the same file that arrives before the download ends read the bytes from the
download's temporary file as they arrive. The file's last byte is only handed out once the
download is verified (size, and sha256 for LFS files), so a client never gets a complete but
corrupt file. A client that disconnects does not stop the download for the others.
"""

import asyncio
import logging

log = logging.getLogger(__name__)

_flights = {}


class Flight:
    """A download in progress: where its bytes are, how many, and how it ended."""

    def __init__(self, size):
        self.size = size
        self.path = None
        self.written = 0
        self.finished = False
        self.error = None
        self.task = None
        self._changed = asyncio.Event()

    @property
    def succeeded(self):
        return self.finished and self.error is None

    def progress(self, path, written):
        self.path, self.written = path, written
        self._notify()

    def finish(self, error=None):
        self.finished, self.error = True, error
        self._notify()

    def _notify(self):
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def changed(self):
        """Wait for the next progress or the end (returns at once if already finished)."""
        if not self.finished:
            await self._changed.wait()


def get(key):
    return _flights.get(key)


def start(key, size, fetch):
    """Register a new flight for `key` and run `fetch(flight)` in the background."""
    flight = Flight(size)
    _flights[key] = flight

    async def run():
        try:
            await fetch(flight)
        except BaseException as exc:  # any end but success fails the flight for every follower
            flight.finish(error=exc)
            if not isinstance(exc, Exception):
                raise  # cancelled: the process is shutting down
            log.warning("Upstream download failed: %s", exc or type(exc).__name__)
        else:
            flight.finish()
        finally:
            if _flights.get(key) is flight:
                del _flights[key]

    flight.task = asyncio.get_running_loop().create_task(run())
    return flight
