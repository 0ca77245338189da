"""When each file was last asked for, and what was answered, without a database write per request.

A resolve (HEAD or GET) only notes the time in this process's memory (`record`: one dict
assignment), and counts its answer per remote (`count_answer`: a hit, a miss or a stale answer,
and the file bytes sent from storage or as they came from the hub). Every `FLUSH_INTERVAL` seconds a background task writes what was noted in one
batched UPDATE of `FileMetadata.last_access` (per remote and file), and once more when the
content app shuts down, and adds the counts to `CacheTraffic` (one upsert per flush). Several
processes write the same rows: the UPDATE replaces a time only with a later one, and counts are
added, so the order of their flushes does not matter. Eviction and `cache_stats` read the
columns, so what they know lags the requests by a few seconds at most.
"""

import asyncio
import logging
import time
from datetime import UTC, datetime

from aiohttp import web
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

log = logging.getLogger(__name__)

FLUSH_INTERVAL = float(getattr(settings, "HUGGING_FACE_ACCESS_FLUSH_SECONDS", 5.0))
BATCH = 5000  # rows per UPDATE
MAX_PENDING = 200_000  # kept across a failed flush; beyond it the oldest news is dropped

_pending = {}  # (remote pk, repo type, repo id, commit, path) -> time.time()
_flusher = None

# What each remote answered since the last flush: remote pk -> [hits, misses, stale,
# bytes from storage, bytes from upstream]. The outcomes are the X-Pulp-Cache values.
OUTCOMES = {"hit": 0, "miss": 1, "stale": 2}
FROM_STORAGE, FROM_UPSTREAM = 3, 4
_traffic = {}
# Request key the handler sets on a resolve: (remote pk, outcome, bytes a redirect hands to the
# object store). `count_answer` counts it when the answer goes out.
ANSWER = web.RequestKey("hf_answer", tuple)


def record(remote_pk, repo, commit, path):
    """Note that a file was asked for now. Never touches the database."""
    _pending[(remote_pk, repo.repo_type, repo.repo_id, commit, path)] = time.time()
    if _flusher is None or _flusher.done():
        _start()


def note_answer(request, remote_pk, outcome, redirected_bytes=0):
    """Mark a resolve's answer for counting (by `count_answer`, as it is sent)."""
    request[ANSWER] = (remote_pk, outcome, redirected_bytes)


async def count_answer(request, response):
    """on_response_prepare: count a resolve answer the handler marked (`note_answer`)."""
    marked = request.get(ANSWER)
    if marked is None or response.status >= 400:
        return
    remote_pk, outcome, redirected_bytes = marked
    index = OUTCOMES.get(outcome)
    if index is None:  # not an answer this counts (a hook must never break the response)
        return
    counts = _traffic.get(remote_pk)
    if counts is None:
        counts = _traffic[remote_pk] = [0, 0, 0, 0, 0]
    counts[index] += 1
    if request.method == "GET":
        if response.status in (301, 302, 303, 307, 308):
            size = redirected_bytes  # the object store sends the bytes
        else:
            size = response.content_length or 0
        counts[FROM_UPSTREAM if outcome == "miss" else FROM_STORAGE] += size
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
    """Write what was noted since the last flush (one UPDATE per `BATCH` files, one upsert of
    the counts)."""
    global _pending, _traffic
    if _traffic:
        counts, _traffic = _traffic, {}
        try:
            await sync_to_async(add_traffic)(counts)
        except Exception as exc:  # noqa: BLE001 - kept for the next flush
            log.warning("Could not add the answer counts (kept for the next flush): %s", exc)
            for remote_pk, values in counts.items():
                kept = _traffic.setdefault(remote_pk, [0, 0, 0, 0, 0])
                for index, value in enumerate(values):
                    kept[index] += value
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


def add_traffic(counts):
    """`counts`: {remote pk: [hits, misses, stale, bytes from storage, bytes from upstream]}.

    Added to each remote's `CacheTraffic` row (made on the first count); counts of a remote
    deleted meanwhile are dropped.
    """
    from .models import CacheTraffic, HuggingFaceRemote

    table = CacheTraffic._meta.db_table
    remotes = HuggingFaceRemote._meta.db_table
    remote_key = HuggingFaceRemote._meta.pk.column
    pks = list(counts)
    columns = list(zip(*(counts[pk] for pk in pks), strict=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} AS t
                (remote_id, hits, misses, stale, bytes_from_storage, bytes_from_upstream, since)
            SELECT a.*, now()
            FROM unnest(%s::uuid[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[],
                        %s::bigint[]) AS a(remote_id, h, m, s, bs, bu)
            WHERE EXISTS (SELECT 1 FROM {remotes} r WHERE r.{remote_key} = a.remote_id)
            ON CONFLICT (remote_id) DO UPDATE SET
                hits = t.hits + EXCLUDED.hits,
                misses = t.misses + EXCLUDED.misses,
                stale = t.stale + EXCLUDED.stale,
                bytes_from_storage = t.bytes_from_storage + EXCLUDED.bytes_from_storage,
                bytes_from_upstream = t.bytes_from_upstream + EXCLUDED.bytes_from_upstream
            """,
            [[str(pk) for pk in pks], *(list(column) for column in columns)],
        )
