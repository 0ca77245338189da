"""When each file was last asked for, without a database write per request.

A resolve (HEAD or GET) only notes the time in this process's memory (`record`: one dict
assignment). Every `FLUSH_INTERVAL` seconds a background task writes what was noted in one
batched UPDATE of `FileMetadata.last_access` (per remote and file), and once more when the
content app shuts down. Several processes write the same rows: the UPDATE replaces a time only
with a later one, so the order of their flushes does not matter. Eviction reads the column, so what
it knows lags the requests by a few seconds at most.
"""

import asyncio
import logging
import time
from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

log = logging.getLogger(__name__)

FLUSH_INTERVAL = float(getattr(settings, "HUGGING_FACE_ACCESS_FLUSH_SECONDS", 5.0))
BATCH = 5000  # rows per UPDATE
MAX_PENDING = 200_000  # kept across a failed flush; beyond it the oldest news is dropped

_pending = {}  # (remote pk, repo type, repo id, commit, path) -> time.time()
_flusher = None


def record(remote_pk, repo, commit, path):
    """Note that a file was asked for now. Never touches the database."""
    _pending[(remote_pk, repo.repo_type, repo.repo_id, commit, path)] = time.time()
    if _flusher is None or _flusher.done():
        _start()


def _start():
    global _flusher
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return  # not in the content app's loop: written by the next flush there, or never
    _flusher = loop.create_task(_flush_forever())


async def _flush_forever():
    while True:
        await asyncio.sleep(FLUSH_INTERVAL)
        await flush()


async def flush():
    """Write what was noted since the last flush (one UPDATE per `BATCH` files)."""
    global _pending
    if not _pending:
        return
    batch, _pending = _pending, {}
    try:
        await sync_to_async(write)(batch)
    except Exception as exc:  # noqa: BLE001 - a lost batch must not stop the flusher
        log.warning(
            "Could not record %d file accesses (kept for the next flush): %s", len(batch), exc
        )
        for key, when in batch.items():
            if len(_pending) >= MAX_PENDING:
                break
            _pending[key] = max(when, _pending.get(key, 0))


async def flush_on_shutdown(app=None):
    if _flusher is not None:
        _flusher.cancel()
    await flush()


def write(batch):
    """`batch`: {(remote pk, repo type, repo id, commit, path): unix time}."""
    from .models import FileMetadata

    table = FileMetadata._meta.db_table
    items = list(batch.items())
    for start in range(0, len(items), BATCH):
        rows = items[start : start + BATCH]
        columns = list(zip(*(key for key, _ in rows), strict=True))
        times = [datetime.fromtimestamp(when, UTC) for _, when in rows]
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {table} AS f SET last_access = a.t
                FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::text[],
                            %s::timestamptz[]) AS a(remote_id, repo_type, repo_id, commit, path, t)
                WHERE f.remote_id = a.remote_id AND f.repo_type = a.repo_type
                  AND f.repo_id = a.repo_id AND f.commit = a.commit AND f.path = a.path
                  AND (f.last_access IS NULL OR f.last_access < a.t)
                """,
                [*(list(column) for column in columns), times],
            )
