"""What a cache holds, computed from the database (`cache_stats` endpoints).

Everything here is a count of rows: files stored per remote (a `RemoteArtifact` of the remote
whose content has its bytes), their sizes, the facts the remote's hub gave (including the files
it said do not exist). Request counts (hits, misses) live in the OpenTelemetry metrics of the
content apps (`metrics.py`), not in the database, so the hit ratio and the bytes served from
storage are read from there (docs/admin/reference/metrics.md).
"""

from django.db.models import Count, Q, Sum

from pulpcore.plugin.models import Artifact, RemoteArtifact

from .models import ApiAnswer, FileMetadata, HuggingFaceContent, RevisionCache

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
    }
