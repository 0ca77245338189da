"""Eviction: the least recently used files of a remote go until it is under its limits.

A file goes when it was not asked for in `max_unused_age` days, or while the remote holds more
than `max_size` bytes (least recently used first: `FileMetadata.last_access`, written in
batches by `access.py`, else the time the file was pulled). Never evicted: files of a frozen
version (`storage.frozen_versions`).

A file leaves in three steps, each of which keeps every answer right:
1. It leaves the latest version of each repository that a distribution of this remote records
   pulled files in (a new repository version).
2. The remote's `RemoteArtifact` and `CachedFile` for it are deleted, and the content apps are
   told to forget the stored files they remember (`memory.ARTIFACTS`): from now on the content
   app does not find it stored for this remote and pulls it through again on the next request.
3. Content that no remote keeps any more (no `CachedFile` shields it) goes to pulpcore's orphan
   cleanup, dispatched as pulpcore's own API does (the domain's orphans lock), with
   `ORPHAN_PROTECTION_TIME`: content touched within that time, and content still in some
   repository version, stays until a later orphan cleanup (pulpcore schedules one).
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Greatest
from django.utils import timezone

from pulpcore.plugin.models import ContentArtifact, ProgressReport, RemoteArtifact
from pulpcore.plugin.tasking import dispatch, orphan_cleanup

from pulp_hugging_face.app import storage
from pulp_hugging_face.app.memory import ARTIFACTS, announce
from pulp_hugging_face.app.models import (
    CachedFile,
    FileMetadata,
    HuggingFaceContent,
    HuggingFaceRemote,
)

log = logging.getLogger(__name__)

BATCH = 1000


def scheduled_eviction(remote_pk):
    """Run by the remote's TaskSchedule: starts `evict` with the locks it needs."""
    remote = HuggingFaceRemote.objects.filter(pk=remote_pk).first()
    if remote is not None and remote.has_storage_limits:
        storage.dispatch_eviction(remote)


def candidates(remote):
    """(content pk, size, last used) of the evictable files, least recently used first."""
    last_access = FileMetadata.objects.filter(
        remote=remote,
        repo_type=OuterRef("repo_type"),
        repo_id=OuterRef("repo_id"),
        commit=OuterRef("commit"),
        path=OuterRef("path"),
    ).values("last_access")[:1]
    pulled = RemoteArtifact.objects.filter(
        remote=remote, content_artifact__content=OuterRef("pk")
    ).values("pulp_created")[:1]
    size = ContentArtifact.objects.filter(content=OuterRef("pk")).values("artifact__size")[:1]
    held = storage.held(remote).values("content_id")
    return (
        HuggingFaceContent.objects.filter(pk__in=held)
        .exclude(storage.frozen_content_filter(remote.pulp_domain))
        # PostgreSQL's GREATEST skips NULLs: a file never asked for counts from its pull.
        .annotate(last_used=Greatest(Subquery(last_access), Subquery(pulled)), bytes=Subquery(size))
        .order_by("last_used", "pk")
        .values_list("pk", "bytes", "last_used")
    )


def select(remote, now):
    """The content pks to evict, and their total size."""
    total = storage.usage(remote).bytes
    cutoff = None
    if remote.max_unused_age is not None:
        cutoff = now - timedelta(days=remote.max_unused_age)
    chosen, freed = [], 0
    for pk, size, last_used in candidates(remote).iterator():
        too_old = cutoff is not None and last_used < cutoff
        too_much = remote.max_size is not None and total - freed > remote.max_size
        if not (too_old or too_much):
            break  # the rest were used later, and the remote is under its size
        chosen.append(pk)
        freed += size or 0
    return chosen, freed


def _leave_repositories(remote, content_pks):
    for repository in storage.recording_repositories(remote):
        latest = repository.latest_version()
        if latest is None or not latest.content.filter(pk__in=content_pks).exists():
            continue
        with repository.new_version() as version:
            version.remove_content(HuggingFaceContent.objects.filter(pk__in=content_pks))


def evict(remote_pk):
    remote = HuggingFaceRemote.objects.filter(pk=remote_pk).first()
    if remote is None:
        return  # deleted while the task waited: its files went with it
    now = timezone.now()
    chosen, freed = select(remote, now)
    unheld = []
    with (
        ProgressReport(message="Evict files", code="evict.files", total=len(chosen)) as files,
        ProgressReport(message="Evict bytes", code="evict.bytes", total=freed) as evicted_bytes,
    ):
        for start in range(0, len(chosen), BATCH):
            batch = chosen[start : start + BATCH]
            sizes = dict(
                ContentArtifact.objects.filter(content__in=batch).values_list(
                    "content_id", "artifact__size"
                )
            )
            _leave_repositories(remote, batch)
            RemoteArtifact.objects.filter(
                remote=remote, content_artifact__content__in=batch
            ).delete()
            CachedFile.objects.filter(remote=remote, content__in=batch).delete()
            announce(ARTIFACTS)  # content apps forget which stored file serves a URL
            still_held = set(
                CachedFile.objects.filter(content__in=batch).values_list("content_id", flat=True)
            )
            unheld.extend(pk for pk in batch if pk not in still_held)
            files.increase_by(len(batch))
            evicted_bytes.increase_by(sum(sizes.get(pk) or 0 for pk in batch))
    if unheld:  # never an empty list: that would mean every orphan of the domain
        dispatch(
            orphan_cleanup,
            exclusive_resources=[f"pdrn:{remote.pulp_domain_id}:orphans"],
            kwargs={
                "content_pks": [str(pk) for pk in unheld],
                "orphan_protection_time": settings.ORPHAN_PROTECTION_TIME,
            },
        )
    HuggingFaceRemote.objects.filter(pk=remote.pk).update(last_eviction=timezone.now())
    log.info("Evicted %d files (%d bytes) of remote %s.", len(chosen), freed, remote.name)
