import asyncio
import hashlib
import hmac
import json
from datetime import timedelta
from logging import getLogger

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from pulpcore.plugin.models import (
    AutoAddObjPermsMixin,
    Content,
    ContentGuard,
    Distribution,
    EncryptedTextField,
    Remote,
    Repository,
    TaskSchedule,
)
from pulpcore.plugin.util import get_domain_pk

from . import hub, policy

log = getLogger(__name__)

REPO_TYPE_CHOICES = [(t, t) for t in hub.REPO_TYPES]


def all_repo_types():
    return list(hub.REPO_TYPES)


def parse_commit_path(relative_path):
    """A `ResolveRequest` for a commit-pinned resolve path, else None (never raises)."""
    try:
        request = hub.parse_hub_path(relative_path)
    except hub.HubError:
        return None
    if isinstance(request, hub.ResolveRequest) and hub.is_commit(request.revision):
        return request
    return None


class HuggingFaceContent(Content):
    """One file of a Hub repository at one commit, with the bytes it was found to have.

    Stored under the relative path `{prefix}{repo_id}/resolve/{commit}/{path}`, the Hub's own
    URL shape, so a repository version can be served by path as the Hub would. The digest is
    part of the identity: two hubs may claim the same commit with different bytes, and each
    remote is served only the bytes that match what its own hub says (`matches`).
    """

    TYPE = "hugging_face"
    repo_key_fields = ("repo_type", "repo_id", "commit", "path")

    repo_type = models.CharField(max_length=16, choices=REPO_TYPE_CHOICES)
    repo_id = models.CharField(max_length=200)
    commit = models.CharField(max_length=40)
    path = models.TextField()
    sha256 = models.CharField(max_length=64, db_index=True)
    size = models.BigIntegerField()
    # sha1 of the bytes as a git blob: the hub's ETag of a file that is not in LFS.
    git_blob_sha1 = models.CharField(max_length=40, null=True)
    _pulp_domain = models.ForeignKey("core.Domain", default=get_domain_pk, on_delete=models.PROTECT)

    @property
    def relative_path(self):
        repo = hub.RepoRef(self.repo_type, self.repo_id)
        return hub.resolve_path(repo, self.commit, self.path)

    @staticmethod
    def init_from_artifact_and_relative_path(artifact, relative_path):
        request = parse_commit_path(relative_path)
        if request is None:
            raise ValueError(f"Not a commit-pinned Hub file path: {relative_path!r}")
        return HuggingFaceContent(
            repo_type=request.repo.repo_type,
            repo_id=request.repo.repo_id,
            commit=request.revision,
            path=request.filename,
            sha256=artifact.sha256,
            size=artifact.size,
        )

    @classmethod
    def matching(cls, repo, facts, path, domain):
        """The stored units whose bytes are the file a hub described with `facts`.

        None when the facts name no digest to compare with (a hub whose ETag of a non-LFS
        file is not a git blob id): then only this remote's own download can be trusted.
        """
        digest = facts.content_digest()
        if digest is None:
            return None
        field, value = digest
        return cls.objects.filter(
            repo_type=repo.repo_type,
            repo_id=repo.repo_id,
            commit=facts.commit,
            path=path,
            size=facts.size,
            _pulp_domain=domain,
            **{field: value},
        )

    class Meta:
        default_related_name = "%(app_label)s_%(model_name)s"
        unique_together = ("repo_type", "repo_id", "commit", "path", "sha256", "_pulp_domain")


class HuggingFaceRevision(Content):
    """What a branch, tag or PR ref pointed to when a repository version was made.

    A repository version holds at most one per (repo, revision) (`repo_key_fields`): served from
    that version, the revision resolves to this commit whatever upstream says now, so a version
    is frozen and can be promoted by moving a distribution to it. The empty revision is the
    repo's default branch (`api/{type}s/{id}` without a revision).
    """

    TYPE = "revision"
    repo_key_fields = ("repo_type", "repo_id", "revision")

    repo_type = models.CharField(max_length=16, choices=REPO_TYPE_CHOICES)
    repo_id = models.CharField(max_length=200)
    revision = models.CharField(max_length=256)
    commit = models.CharField(max_length=40)
    _pulp_domain = models.ForeignKey("core.Domain", default=get_domain_pk, on_delete=models.PROTECT)

    class Meta:
        default_related_name = "%(app_label)s_%(model_name)s"
        unique_together = ("repo_type", "repo_id", "revision", "commit", "_pulp_domain")


class HuggingFaceMetadata(Content):
    """One Hub answer about a repo at a commit, as a repository version holds it.

    `endpoint` says what it answers: "info" (the repo info, `query` the arguments it was asked
    with), "tree" (the whole recursive listing, every upstream page joined, from which tree and
    paths-info answers are made) or "file" (an `EntryNotFound` answer for a path). `key` digests
    what was asked; `digest` what was answered, so two hubs that answer the same question
    differently make two units.
    """

    TYPE = "metadata"
    INFO, TREE, FILE = "info", "tree", "file"
    repo_key_fields = ("repo_type", "repo_id", "commit", "key")

    repo_type = models.CharField(max_length=16, choices=REPO_TYPE_CHOICES)
    repo_id = models.CharField(max_length=200)
    commit = models.CharField(max_length=40)
    endpoint = models.CharField(max_length=16)
    path = models.TextField(default="")  # the file of a "file" answer
    query = models.TextField(default="")  # the request's arguments, as JSON
    key = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(default=200)
    body = models.TextField()  # the JSON answer (error answers: the error message)
    digest = models.CharField(max_length=64)
    _pulp_domain = models.ForeignKey("core.Domain", default=get_domain_pk, on_delete=models.PROTECT)

    @staticmethod
    def key_of(endpoint, commit, path="", query=()):
        return hashlib.sha256(
            json.dumps([endpoint, commit, path, [list(q) for q in query]]).encode()
        ).hexdigest()

    @classmethod
    def build(cls, repo, commit, endpoint, body, path="", query=(), status=200):
        digest = hashlib.sha256(json.dumps([status, body]).encode()).hexdigest()
        return cls(
            repo_type=repo.repo_type,
            repo_id=repo.repo_id,
            commit=commit,
            endpoint=endpoint,
            path=path,
            query=json.dumps([list(q) for q in query]),
            key=cls.key_of(endpoint, commit, path, query),
            status=status,
            body=body,
            digest=digest,
        )

    class Meta:
        default_related_name = "%(app_label)s_%(model_name)s"
        unique_together = ("repo_type", "repo_id", "commit", "key", "digest", "_pulp_domain")


class HuggingFaceRemote(Remote, AutoAddObjPermsMixin):
    """An upstream Hugging Face Hub (huggingface.co or a compatible server).

    `hf_token` is sent as `Authorization: Bearer` to the hub's own host only, never to the CDN
    its redirects point at.
    """

    TYPE = "hugging_face"
    DEFAULT_URL = "https://huggingface.co"

    hf_token = EncryptedTextField(null=True)
    metadata_ttl = models.PositiveIntegerField(
        default=300,
        help_text="Seconds a branch/tag -> commit answer is reused before asking upstream again.",
    )
    metadata_timeout = models.FloatField(
        default=8.0,
        help_text="Seconds to wait for an upstream metadata answer (a client HEAD waits 10 s).",
    )
    # What may be pulled through (see `policy.py`) ...
    allow_repos = ArrayField(models.TextField(), default=list)
    deny_repos = ArrayField(models.TextField(), default=list)
    allow_files = ArrayField(models.TextField(), default=list)
    deny_files = ArrayField(models.TextField(), default=list)
    max_file_size = models.BigIntegerField(null=True)
    repo_types = ArrayField(models.CharField(max_length=16), default=all_repo_types)
    # ... and how much of it is kept (see `tasks/eviction.py`).
    max_size = models.BigIntegerField(null=True)
    max_unused_age = models.PositiveIntegerField(null=True)  # days
    last_eviction = models.DateTimeField(null=True)

    @property
    def rules(self):
        return policy.Rules.of(self)

    @property
    def has_storage_limits(self):
        return self.max_size is not None or self.max_unused_age is not None

    def get_remote_artifact_url(self, relative_path=None, request=None):
        request = parse_commit_path(relative_path or "")
        if request is None:
            return None
        return f"{self.url.rstrip('/')}/{request.path()}"

    def get_remote_artifact_content_type(self, relative_path=None):
        if parse_commit_path(relative_path or "") is not None:
            return HuggingFaceContent
        return None

    @property
    def download_factory(self):
        """The process's one client setup for this remote (see `upstream.HubClient`)."""
        from .upstream import HubClient, client_for

        try:
            asyncio.get_running_loop()
        except RuntimeError:  # synchronous code (a task): a client of its own
            if not hasattr(self, "_download_factory"):
                self._download_factory = HubClient(self)
            return self._download_factory
        return client_for(self)

    def get_downloader(self, remote_artifact=None, url=None, download_factory=None, **kwargs):
        kwargs.setdefault("hub_url", self.url)
        kwargs.setdefault("hub_token", self.hf_token)
        return super().get_downloader(
            remote_artifact=remote_artifact, url=url, download_factory=download_factory, **kwargs
        )

    class Meta:
        default_related_name = "%(app_label)s_%(model_name)s"
        permissions = [
            ("manage_roles_huggingfaceremote", "Can manage roles on Hugging Face remotes"),
        ]


EVICTION_SCHEDULE_TASK = "pulp_hugging_face.app.tasks.eviction.scheduled_eviction"


def eviction_schedule_name(remote):
    return f"Evict files of Hugging Face remote {remote.pk}"


@receiver(post_save, sender=HuggingFaceRemote)
def schedule_eviction(sender, instance, **kwargs):
    """A remote with storage limits has a pulpcore TaskSchedule that evicts its files."""
    schedules = TaskSchedule.objects.filter(
        name=eviction_schedule_name(instance), pulp_domain=instance.pulp_domain
    )
    if not instance.has_storage_limits:
        schedules.delete()
        return
    minutes = getattr(settings, "HUGGING_FACE_EVICTION_INTERVAL", 60)
    TaskSchedule.objects.update_or_create(
        name=eviction_schedule_name(instance),
        pulp_domain=instance.pulp_domain,
        defaults={
            "task_name": EVICTION_SCHEDULE_TASK,
            "task_kwargs": {"remote_pk": str(instance.pk)},
            "dispatch_interval": timedelta(minutes=minutes),
        },
    )


@receiver(post_delete, sender=HuggingFaceRemote)
def unschedule_eviction(sender, instance, **kwargs):
    TaskSchedule.objects.filter(name=eviction_schedule_name(instance)).delete()


class HuggingFaceRepository(Repository, AutoAddObjPermsMixin):
    """Files and Hub metadata as repository versions: filled by prefetch tasks (`sync`), and by
    pull-through for a distribution that has a remote too."""

    TYPE = "hugging_face"
    CONTENT_TYPES = [HuggingFaceContent, HuggingFaceRevision, HuggingFaceMetadata]
    REMOTE_TYPES = [HuggingFaceRemote]
    PULL_THROUGH_SUPPORTED = True

    class Meta:
        default_related_name = "%(app_label)s_%(model_name)s"
        permissions = [
            ("sync_huggingfacerepository", "Can start a sync task"),
            ("modify_huggingfacerepository", "Can modify content of the repository"),
            ("manage_roles_huggingfacerepository", "Can manage roles on Hugging Face repositories"),
            ("repair_huggingfacerepository", "Can repair repository versions"),
        ]


class HuggingFaceDistribution(Distribution, AutoAddObjPermsMixin):
    """Serves the Hub protocol at `{CONTENT_ORIGIN}{CONTENT_PATH_PREFIX}{base_path}`."""

    TYPE = "hugging_face"

    class Meta:
        default_related_name = "%(app_label)s_%(model_name)s"
        permissions = [
            (
                "manage_roles_huggingfacedistribution",
                "Can manage roles on Hugging Face distributions",
            ),
        ]


def token_digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


class MissingToken(PermissionError):
    """No `Authorization: Bearer` token: answered 401, the client may retry with one."""


class HuggingFaceTokenContentGuard(ContentGuard, AutoAddObjPermsMixin):
    """Lets in clients that send one of its tokens the way Hub clients do (`HF_TOKEN`).

    Only sha256 digests of the tokens are stored. The client's token is checked here and never
    forwarded upstream: the cache talks to the hub with the remote's own token.
    """

    TYPE = "token"

    token_digests = ArrayField(models.CharField(max_length=64), default=list)

    def permit(self, request):
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise MissingToken("A token is required: set HF_TOKEN for this endpoint.")
        digest = token_digest(token.strip())
        if not any(hmac.compare_digest(digest, known) for known in self.token_digests):
            raise PermissionError("The token is not allowed on this distribution.")

    class Meta:
        default_related_name = "%(app_label)s_%(model_name)s"
        permissions = [
            (
                "manage_roles_huggingfacetokencontentguard",
                "Can manage roles on Hugging Face token content guards",
            ),
        ]


class RevisionCache(models.Model):
    """What a branch, tag or PR ref pointed to at `checked_at`, per remote."""

    remote = models.ForeignKey(HuggingFaceRemote, on_delete=models.CASCADE)
    repo_type = models.CharField(max_length=16, choices=REPO_TYPE_CHOICES)
    repo_id = models.CharField(max_length=200)
    revision = models.CharField(max_length=256)
    commit = models.CharField(max_length=40)
    checked_at = models.DateTimeField()

    class Meta:
        unique_together = ("remote", "repo_type", "repo_id", "revision")


class FileMetadata(models.Model):
    """The Hub's facts about one path at one commit, per remote: immutable once known.

    `exists=False` records an `EntryNotFound` answer, so optional-file probes of clients
    (transformers, datasets) are answered without asking upstream again.
    """

    remote = models.ForeignKey(HuggingFaceRemote, on_delete=models.CASCADE)
    repo_type = models.CharField(max_length=16, choices=REPO_TYPE_CHOICES)
    repo_id = models.CharField(max_length=200)
    commit = models.CharField(max_length=40)
    path = models.TextField()
    exists = models.BooleanField(default=True)
    etag = models.CharField(max_length=128, null=True)
    size = models.BigIntegerField(null=True)
    lfs_sha256 = models.CharField(max_length=64, null=True)
    checked_at = models.DateTimeField(auto_now=True)
    # When the file was last asked for (HEAD or GET) through this remote; written in batches
    # by `access.py`, so it may lag by a few seconds. Eviction goes least recently used first.
    last_access = models.DateTimeField(null=True)

    class Meta:
        unique_together = ("remote", "repo_type", "repo_id", "commit", "path")


class ApiAnswer(models.Model):
    """An upstream API answer for a commit (immutable) or for a mutable revision (with TTL).

    `key` is a digest of the normalized request (endpoint, revision, arguments).
    """

    remote = models.ForeignKey(HuggingFaceRemote, on_delete=models.CASCADE)
    key = models.CharField(max_length=64)
    repo_type = models.CharField(max_length=16, choices=REPO_TYPE_CHOICES)
    repo_id = models.CharField(max_length=200)
    commit = models.CharField(max_length=40, null=True)
    status = models.PositiveSmallIntegerField()
    headers = models.JSONField(default=dict)
    body = models.BinaryField()
    checked_at = models.DateTimeField()

    class Meta:
        unique_together = ("remote", "key")


class UpstreamLease(models.Model):
    """Which content-app process asks upstream for one thing now (see `leases.py`).

    `key` digests what is asked (a file body by URL, a fact by its request); `generation` grows
    with each take-over, so a follower knows whether the lease it waited for has ended.
    """

    remote = models.ForeignKey(HuggingFaceRemote, on_delete=models.CASCADE)
    key = models.CharField(max_length=64)
    leader = models.CharField(max_length=255)
    generation = models.PositiveIntegerField(default=1)
    heartbeat = models.DateTimeField()
    state = models.CharField(max_length=16)
    path = models.TextField(default="")  # a body download's temporary file, which readers follow
    outcome = models.JSONField(default=dict)  # the error of a failed lease

    class Meta:
        unique_together = ("remote", "key")


class CachedFile(models.Model):
    """A stored file that a remote keeps in its cache.

    The PROTECT foreign key keeps pulpcore's orphan cleanup, which runs on a schedule, from
    deleting a pulled file that is in no repository version: such a file is still the cache's,
    and the hub may be down when it is next asked for. Eviction deletes the row first; deleting
    the remote deletes its rows, so the files it alone kept become orphans.
    """

    remote = models.ForeignKey(HuggingFaceRemote, on_delete=models.CASCADE)
    content = models.ForeignKey(HuggingFaceContent, on_delete=models.PROTECT)
    pulp_created = models.DateTimeField(auto_now_add=True)

    class Meta:
        unique_together = ("remote", "content")


class CacheTraffic(models.Model):
    """What a remote's distributions answered for files, summed over every content app.

    Each content process counts in memory and adds its counts here every few seconds
    (`access.py`), so no request writes to the database. `hits` were answered from storage or
    from known facts, `misses` needed the hub, `stale` were answered from the cache while the hub
    was unavailable.
    """

    remote = models.OneToOneField(HuggingFaceRemote, on_delete=models.CASCADE, primary_key=True)
    hits = models.BigIntegerField(default=0)
    misses = models.BigIntegerField(default=0)
    stale = models.BigIntegerField(default=0)
    bytes_from_storage = models.BigIntegerField(default=0)
    bytes_from_upstream = models.BigIntegerField(default=0)
    since = models.DateTimeField(auto_now_add=True)
