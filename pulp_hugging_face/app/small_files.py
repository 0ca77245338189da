"""Small stored files answered from memory.

Hugging Face clients fetch a handful of small files (config.json, tokenizer files, READMEs) on
every load. pulpcore answers a stored file with aiohttp's `FileResponse`, which stats and opens
the file in a thread before `sendfile`: for a file of a few KiB that thread hop costs more than
the bytes, and halves the rate a content process can answer. A stored artifact's bytes never
change (its path is its digest), so a process may keep them: up to `HUGGING_FACE_SMALL_FILE_SIZE`
bytes per file and `HUGGING_FACE_SMALL_FILE_MEMORY` in all, least recently used first out.

Only a plain GET is answered here (`hub.is_plain_get`): ranges and conditional requests keep
pulpcore's answer, as does every storage but the filesystem (an object store redirects).
The file is still checked on disk before each answer, so a file removed by eviction or orphan
cleanup is never served from memory.
"""

import asyncio
import functools
import os

from aiohttp import web
from django.conf import settings

from . import hub, pullthrough
from .memory import memory

DEFAULT_FILE_SIZE = 1024 * 1024
DEFAULT_MEMORY = 64 * 1024 * 1024


@functools.cache  # settings are slow to read (dynaconf), and do not change while running
def file_size_limit():
    return int(getattr(settings, "HUGGING_FACE_SMALL_FILE_SIZE", DEFAULT_FILE_SIZE))


@functools.cache
def memory_limit():
    return int(getattr(settings, "HUGGING_FACE_SMALL_FILE_MEMORY", DEFAULT_MEMORY))


def _read(path):
    """The file's bytes and modification time (what `FileResponse` gives as Last-Modified)."""
    with open(path, "rb") as file:
        return file.read(), os.fstat(file.fileno()).st_mtime


async def answer(request, content_artifact, headers):
    """The answer to a plain GET of a small stored file, from memory; None to leave it to
    pulpcore (not small, not on the filesystem, not a plain GET)."""
    artifact = content_artifact.artifact
    if artifact.size is None or artifact.size > file_size_limit() or memory_limit() <= 0:
        return None
    if request.method != "GET" or not hub.is_plain_get(request.headers):
        return None
    path = pullthrough.filesystem_path(artifact)
    if path is None:
        return None
    entry = memory.bodies.get(path)
    if entry is not None and not os.path.exists(path):
        return None  # removed since it was read (eviction, orphan cleanup): not served
    if entry is None:
        try:
            entry = await asyncio.to_thread(_read, path)
        except FileNotFoundError:
            return None  # removed meanwhile: pulpcore's answer says so
        if len(entry[0]) != artifact.size:
            return None  # not the stored artifact: never keep or serve it
        memory.bodies.limit = memory_limit()
        memory.bodies.put(path, entry)
    body, modified = entry
    response = web.Response(
        body=body,
        headers={**headers, "ETag": headers.get("ETag") or f'"{artifact.sha256}"'},
    )
    # What pulpcore's answer of the same file carries besides the hub's headers.
    response.headers["X-PULP-ARTIFACT-SIZE"] = str(artifact.size)
    response.last_modified = modified
    return response
