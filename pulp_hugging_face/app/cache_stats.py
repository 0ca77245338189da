"""What a cache holds, computed from the database (`cache_stats` endpoints).

Files stored per remote (a `RemoteArtifact` of the remote whose content has its bytes), their
sizes, the facts the remote's hub gave (including the files it said do not exist), and what the
remote's distributions answered for files (`CacheTraffic`, added every few seconds by each
content app: `access.py`): hits, misses, stale answers, the hit ratio and the bytes served from
storage, which clients did not have to fetch from the hub. The OpenTelemetry metrics
(`metrics.py`) give the same per distribution and over time.
"""

from django.db.models import Count, Min, Q, Sum

from pulpcore.plugin.models import Artifact, RemoteArtifact

from .models import ApiAnswer, CacheTraffic, FileMetadata, HuggingFaceContent, RevisionCache

DEFAULT_TOP = 10
MAX_TOP = 100


def cache_stats(remotes, top=DEFAULT_TOP):
    """Totals over `remotes` (a queryset of HuggingFaceRemote) and the `top` repos by bytes."""
    stored = RemoteArtifact.objects.filter(
        remote__in=remotes, content_artifact__artifact__isnull=False
    )
    files = HuggingFaceContent.objects.filter(pk__in=stored.values("content_artifact__content_id"))
    totals = files.aggregate(file_count=Count("pk"), bytes=Sum("size"))
    repo_count = files.values("repo_type", "repo_id").distinct().count()
    # Identical bytes under several paths or commits are one artifact in storage.
    stored_bytes = Artifact.objects.filter(
        pk__in=stored.values("content_artifact__artifact_id")
    ).aggregate(total=Sum("size"))["total"]
    top_repos = (
        files.values("repo_type", "repo_id")
        .annotate(file_count=Count("pk"), bytes=Sum("size"))
        .order_by("-bytes", "repo_type", "repo_id")[:top]
    )
    facts = FileMetadata.objects.filter(remote__in=remotes).aggregate(
        files_known=Count("pk", filter=Q(exists=True)),
        files_missing=Count("pk", filter=Q(exists=False)),
    )
    traffic = CacheTraffic.objects.filter(remote__in=remotes).aggregate(
        hits=Sum("hits"),
        misses=Sum("misses"),
        stale=Sum("stale"),
        bytes_from_storage=Sum("bytes_from_storage"),
        bytes_from_upstream=Sum("bytes_from_upstream"),
        since=Min("since"),
    )
    bytes_total = totals["bytes"] or 0
    stored_bytes = stored_bytes or 0
    return {
        "remote_count": remotes.count(),
        "file_count": totals["file_count"],
        "repo_count": repo_count,
        "bytes": bytes_total,
        "stored_bytes": stored_bytes,
        "deduplicated_bytes": bytes_total - stored_bytes,
        "facts": {
            **facts,
            "revisions": RevisionCache.objects.filter(remote__in=remotes).count(),
            "api_answers": ApiAnswer.objects.filter(remote__in=remotes).count(),
        },
        "top_repos": [dict(row) for row in top_repos],
        "requests": requests_of(traffic),
        "bytes_served": {
            "storage": traffic["bytes_from_storage"] or 0,
            "upstream": traffic["bytes_from_upstream"] or 0,
        },
        # Each byte served from storage is one the client did not fetch from the hub.
        "bytes_saved": traffic["bytes_from_storage"] or 0,
        "counting_since": traffic["since"],
    }


def requests_of(traffic):
    """File answers (HEAD and GET) by outcome, and the hit ratio: the share answered without
    the hub (stale answers count as answered from the cache); None before any answer."""
    hits, misses, stale = (traffic[key] or 0 for key in ("hits", "misses", "stale"))
    total = hits + misses + stale
    return {
        "hit": hits,
        "miss": misses,
        "stale": stale,
        "total": total,
        "hit_ratio": round((hits + stale) / total, 4) if total else None,
    }
