"""What a remote holds in the cache, what of it may never be evicted, and the size limit.

A remote "holds" a file when it has a `RemoteArtifact` for a stored artifact: that is what the
handler serves from (`_stored_file`). Files in a repository version that a distribution serves
directly (its `repository_version`, or the latest version of a `repository` without `remote`:
the frozen versions of the prefetch work) are never evicted; they still count towards the
remote's `max_size`, as they take the disk space.
"""

import logging
import time
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.db.models import Count, Q, Sum

from pulpcore.plugin.models import ContentArtifact
from pulpcore.plugin.tasking import dispatch

from . import hub

log = logging.getLogger(__name__)

INSUFFICIENT_STORAGE = 507
EVICT_TASK = "pulp_hugging_face.app.tasks.eviction.evict"
TRIGGER_PAUSE = 30.0  # seconds between evictions started by one process for one remote


@dataclass(frozen=True)
class Usage:
    bytes: int
    files: int


def held(remote):
    """The ContentArtifacts of the files this remote serves from storage."""
    from .models import HuggingFaceContent

    return ContentArtifact.objects.filter(
        remoteartifact__remote=remote,
        artifact__isnull=False,
        content__pulp_type=HuggingFaceContent.get_pulp_type(),
    )


def usage(remote):
    totals = held(remote).aggregate(size=Sum("artifact__size"), files=Count("pk"))
    return Usage(totals["size"] or 0, totals["files"] or 0)


def frozen_versions(domain):
    """The repository versions that distributions of `domain` serve directly."""
    from .models import HuggingFaceDistribution

    versions = []
    distributions = HuggingFaceDistribution.objects.filter(pulp_domain=domain).filter(
        Q(repository_version__isnull=False) | Q(repository__isnull=False, remote__isnull=True)
    )
    for distribution in distributions.select_related("repository_version", "repository"):
        if distribution.repository_version is not None:
            versions.append(distribution.repository_version)
        else:
            versions.append(distribution.repository.latest_version())
    return [v for v in versions if v is not None]


def frozen_content_filter(domain):
    """A Q on content pk: the content of every frozen version (never evicted)."""
    query = Q(pk__in=[])
    for version in frozen_versions(domain):
        query |= Q(pk__in=version.content.values("pk"))
    return query


def frozen_bytes(remote):
    """Bytes held by `remote` that eviction can never free."""
    from .models import HuggingFaceContent

    frozen = HuggingFaceContent.objects.filter(frozen_content_filter(remote.pulp_domain))
    return (
        held(remote).filter(content__in=frozen).aggregate(size=Sum("artifact__size"))["size"] or 0
    )


def insufficient_storage(remote, size):
    """The 507 for a cold file that cannot fit under `max_size` even after eviction."""
    room = remote.max_size - frozen_bytes(remote)
    return hub.HubError(
        INSUFFICIENT_STORAGE,
        None,
        f"The file is {size} bytes; this cache keeps at most max_size {remote.max_size} bytes "
        f"for this remote, of which {max(room, 0)} can be freed for it.",
    )


_last_trigger = {}


def _admit(remote, size):
    if remote.max_size is None:
        return
    if size > remote.max_size or size > remote.max_size - frozen_bytes(remote):
        raise insufficient_storage(remote, size)
    if usage(remote).bytes + size > remote.max_size:
        trigger_eviction(remote)


def recording_repositories(remote):
    """Repositories in which distributions of `remote` record what they pull through."""
    from .models import HuggingFaceDistribution

    distributions = HuggingFaceDistribution.objects.filter(remote=remote, repository__isnull=False)
    return [d.repository.cast() for d in distributions.select_related("repository")]


def dispatch_eviction(remote):
    """The eviction task of `remote`, holding the remote and the repositories it changes."""
    return dispatch(
        EVICT_TASK,
        exclusive_resources=[remote, *recording_repositories(remote)],
        kwargs={"remote_pk": str(remote.pk)},
    )


def trigger_eviction(remote):
    """Start an eviction of `remote` (at most one per `TRIGGER_PAUSE` from this process)."""
    now = time.monotonic()
    if now - _last_trigger.get(remote.pk, -TRIGGER_PAUSE) < TRIGGER_PAUSE:
        return
    _last_trigger[remote.pk] = now
    try:
        dispatch_eviction(remote)
    except Exception as exc:  # noqa: BLE001 - the scheduled eviction comes later anyway
        log.warning("Could not start an eviction of remote %s: %s", remote.name, exc)


async def admit(remote, size):
    """Before a cold download: a 507 when the file can never fit; an eviction when the remote
    goes over its limit with it (the new file is the most recently used, so older ones go)."""
    if remote.max_size is not None:
        await sync_to_async(_admit)(remote, size)
