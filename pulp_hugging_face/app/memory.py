"""What this content process remembers of the database, so that a warm request needs no query.

Only what the database says is kept, and each kind only as long as it cannot have changed:

- distributions (with their remote, content guard, repository and domain), and domains: until a
  distribution, remote, content guard, repository or domain changes anywhere. Every process that
  saves one announces it with PostgreSQL `NOTIFY` (`announce`, sent by `signals.py`); each
  content process `LISTEN`s (`listen`) and forgets. Until it listens it remembers nothing. When
  the listening connection is lost (a database restart), what it remembers is still used, since
  a database that cannot be reached cannot be changed either, but nothing new is kept; it is all
  forgotten once the connection is back.
- facts about a commit (file facts, `EntryNotFound`, listings and info at a commit): immutable.
- what a revision points to: with the time the database says it was checked, so it is fresh
  within the remote's `metadata_ttl` and never beyond it.
- which stored file serves a URL: until an eviction announces removed artifacts; on filesystem
  storage the file is also checked on disk before it is served from memory.
- the bytes of small stored files (`small_files`): an artifact's bytes never change; they are
  dropped with the stored files, and the file is checked on disk before each answer.

A request that read the database while something changed must not keep its now old answer:
`generation` counts the forgets, and an answer is kept only under the generation it was read in.
"""

import asyncio
import logging
import time
from collections import OrderedDict

import psycopg
from django.conf import settings
from django.db import connections

log = logging.getLogger(__name__)

CHANNEL = "pulp_hugging_face_changes"
RECONNECT_DELAY = 0.5  # seconds between attempts to listen again
HEALTH_CHECK = 5.0  # seconds without a notification before the connection is checked
HEALTH_TIMEOUT = 2.0  # a silent network must not leave this process remembering
STORED_FILE_TTL = 30.0  # seconds a stored file is remembered where it cannot be checked on disk

# What an announcement is about (the payload is "<kind>" or "<kind>:<pk>").
CONFIGURATION = "configuration"  # distributions, remotes, guards, domains
REPOSITORY = "repository"  # a repository's content changed (a new version)
ARTIFACTS = "artifacts"  # stored files were removed


class Bounded(OrderedDict):
    """A least-recently-used mapping with a cost limit (entries, or bytes with `cost`)."""

    def __init__(self, limit, cost=lambda value: 1):
        super().__init__()
        self.limit = limit
        self.cost = cost
        self.total = 0

    def get(self, key, default=None):
        if key not in self:
            return default
        self.move_to_end(key)
        return self[key]

    def put(self, key, value):
        if key in self:
            self.total -= self.cost(self.pop(key))
        size = self.cost(value)
        if size > self.limit:
            return
        self[key] = value
        self.total += size
        while self.total > self.limit:
            _, old = self.popitem(last=False)
            self.total -= self.cost(old)

    def clear(self):
        super().clear()
        self.total = 0


class Memory:
    def __init__(self):
        self.listening = False
        self.generation = 0
        self.domains = {}  # domain name -> Domain
        self.distributions = None  # {(domain pk, base_path): DistributionView}, when loaded
        self.revisions = Bounded(50_000)  # (remote pk, repo, revision) -> (commit, checked_at)
        self.facts = Bounded(200_000)  # (remote pk, repo, commit, path) -> FileFacts | NOT_FOUND
        self.answers = Bounded(64 * 1024 * 1024, cost=lambda answer: len(answer.body) + 200)
        self.stored_files = Bounded(100_000)  # (remote pk, url, digest) -> (ContentArtifact, t)
        self.in_repository = Bounded(200_000)  # (repository pk, content pk) -> True
        # storage path -> (bytes, mtime) of small stored files (small_files.py)
        self.bodies = Bounded(64 * 1024 * 1024, cost=lambda entry: len(entry[0]) + 100)

    def forget(self, kind=CONFIGURATION, pk=None):
        self.generation += 1
        if kind == REPOSITORY and pk:
            for key in [key for key in self.in_repository if str(key[0]) == pk]:
                del self.in_repository[key]
            return
        if kind == ARTIFACTS:
            self.stored_files.clear()
            self.in_repository.clear()
            self.bodies.clear()
            return
        self.domains.clear()
        self.distributions = None
        self.revisions.clear()
        self.facts.clear()
        self.answers.clear()
        self.stored_files.clear()
        self.in_repository.clear()

    def keeps(self, generation):
        """May an answer read from the database under `generation` be kept?"""
        return self.listening and generation == self.generation

    # --- stored files -------------------------------------------------------------------------

    def stored_file(self, key):
        entry = self.stored_files.get(key)
        if entry is None:
            return None
        content_artifact, remembered_at = entry
        if not _checked_on_disk(content_artifact) and (
            time.monotonic() - remembered_at > STORED_FILE_TTL
        ):
            del self.stored_files[key]
            return None
        return content_artifact

    def keep_stored_file(self, key, content_artifact, generation):
        if self.keeps(generation):
            self.stored_files.put(key, (content_artifact, time.monotonic()))


def _checked_on_disk(content_artifact):
    """Whether the file of a remembered stored file is checked on disk before it is served."""
    domain = content_artifact.artifact.pulp_domain
    return domain.storage_class == "pulpcore.app.models.storage.FileSystem"


memory = Memory()


# --- announcing and listening ---------------------------------------------------------------


def announce(kind=CONFIGURATION, pk=None, using="default"):
    """Tell every content process that something it may remember changed.

    Sent inside the caller's transaction, so it is delivered when (and only if) that commits.
    """
    payload = kind if pk is None else f"{kind}:{pk}"
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, payload])


def _connection_params():
    database = settings.DATABASES["default"]
    params = {
        "dbname": database.get("NAME"),
        "user": database.get("USER"),
        "password": database.get("PASSWORD"),
        "host": database.get("HOST") or None,
        "port": database.get("PORT") or None,
        "autocommit": True,
    }
    options = dict(database.get("OPTIONS") or {})
    for django_only in ("pool", "server_side_binding", "isolation_level", "assume_role"):
        options.pop(django_only, None)
    params.update(options)
    return {key: value for key, value in params.items() if value is not None}


async def listen(app=None):
    """Keep a LISTEN connection open for as long as the content app runs (an aiohttp cleanup
    context); remember nothing while it is down."""
    task = asyncio.ensure_future(_listen_forever())
    yield
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    memory.listening = False


async def _listen_forever():
    while True:
        try:
            connection = await psycopg.AsyncConnection.connect(**_connection_params())
            async with connection:
                await connection.execute(f"LISTEN {CHANNEL}")
                memory.forget()  # anything may have changed while nobody listened
                memory.listening = True
                log.debug("Listening for changes on %s.", CHANNEL)
                while True:
                    async for notification in connection.notifies(timeout=HEALTH_CHECK):
                        kind, _, pk = notification.payload.partition(":")
                        memory.forget(kind, pk or None)
                    await asyncio.wait_for(connection.execute("SELECT 1"), HEALTH_TIMEOUT)
        except (psycopg.Error, OSError, TimeoutError) as exc:
            if memory.listening:
                log.warning("Stopped listening for changes (%s); reconnecting.", exc)
        # What is remembered stays in use while the database cannot be asked (nobody can change
        # it through a database that is down), nothing new is kept, and all is forgotten as
        # soon as the listening connection is back.
        memory.listening = False
        await asyncio.sleep(RECONNECT_DELAY)
