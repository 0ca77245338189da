"""One upstream download per file and content-app process, streamed to every client meanwhile.

The first request for a file that is not stored starts a download in the background; it and
every request for the same file that arrives before the download ends read the bytes from the
download's temporary file as they arrive. The file's last byte is only handed out once the
download is verified (size, and sha256 for LFS files), so a client never gets a complete but
corrupt file. A client that disconnects does not stop the download for the others.
"""

import asyncio

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
        except Exception as exc:  # noqa: BLE001 - any failure ends the flight for every follower
            flight.finish(error=exc)
        else:
            flight.finish()
        finally:
            if _flights.get(key) is flight:
                del _flights[key]

    flight.task = asyncio.get_running_loop().create_task(run())
    return flight
