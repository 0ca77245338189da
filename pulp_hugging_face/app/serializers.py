from gettext import gettext as _
from urllib.parse import urlsplit

from rest_framework import serializers

from pulpcore.plugin import models as core_models
from pulpcore.plugin import serializers as core_serializers

from . import hub, models, policy, storage


def _patterns_field(help_text):
    # Validated as a whole by policy.py (a bad regex is a 400 naming the field).
    return serializers.ListField(
        child=serializers.CharField(trim_whitespace=False, allow_blank=True),
        required=False,
        help_text=help_text,
    )


class HuggingFaceContentSerializer(core_serializers.SingleArtifactContentSerializer):
    """A file of a Hub repository at one commit, pulled through the cache."""

    repo_type = serializers.CharField(read_only=True, help_text=_("model, dataset or space"))
    repo_id = serializers.CharField(read_only=True, help_text=_("e.g. 'org/name'"))
    commit = serializers.CharField(read_only=True, help_text=_("The 40-hex commit sha."))
    path = serializers.CharField(read_only=True, help_text=_("Path of the file in the repo."))
    sha256 = serializers.CharField(read_only=True)
    size = serializers.IntegerField(read_only=True)
    relative_path = serializers.CharField(
        read_only=True, help_text=_("The Hub path it is served at under a distribution.")
    )

    class Meta:
        fields = core_serializers.SingleArtifactContentSerializer.Meta.fields + (
            "repo_type",
            "repo_id",
            "commit",
            "path",
            "sha256",
            "size",
            "relative_path",
        )
        model = models.HuggingFaceContent


class HuggingFaceRevisionSerializer(core_serializers.NoArtifactContentSerializer):
    """A revision -> commit mapping recorded by a prefetch ("" is the default branch)."""

    repo_type = serializers.CharField(read_only=True)
    repo_id = serializers.CharField(read_only=True)
    revision = serializers.CharField(read_only=True)
    commit = serializers.CharField(read_only=True)

    class Meta:
        fields = core_serializers.NoArtifactContentSerializer.Meta.fields + (
            "repo_type",
            "repo_id",
            "revision",
            "commit",
        )
        model = models.HuggingFaceRevision


class HuggingFaceMetadataSerializer(core_serializers.NoArtifactContentSerializer):
    """A Hub answer about a repo at a commit, recorded by a prefetch (without its body)."""

    repo_type = serializers.CharField(read_only=True)
    repo_id = serializers.CharField(read_only=True)
    commit = serializers.CharField(read_only=True)
    endpoint = serializers.CharField(read_only=True, help_text=_("info, tree or file"))
    path = serializers.CharField(read_only=True)
    status = serializers.IntegerField(read_only=True)

    class Meta:
        fields = core_serializers.NoArtifactContentSerializer.Meta.fields + (
            "repo_type",
            "repo_id",
            "commit",
            "endpoint",
            "path",
            "status",
        )
        model = models.HuggingFaceMetadata


class HuggingFaceRemoteSerializer(core_serializers.RemoteSerializer):
    """An upstream Hugging Face Hub."""

    url = serializers.CharField(
        default=models.HuggingFaceRemote.DEFAULT_URL,
        help_text=_("The hub's base URL. Defaults to https://huggingface.co."),
    )
    hf_token = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        write_only=True,
        trim_whitespace=True,
        style={"input_type": "password"},
        help_text=_(
            "A Hugging Face access token for private or gated repos. Write-only, stored "
            "encrypted, sent only to the hub's own host."
        ),
    )
    policy = serializers.ChoiceField(
        help_text=_(
            "'on_demand' stores every file fetched through the cache; 'streamed' passes bytes "
            "through without storing them."
        ),
        choices=[
            (core_models.Remote.ON_DEMAND, "on_demand"),
            (core_models.Remote.STREAMED, "streamed"),
        ],
        default=core_models.Remote.ON_DEMAND,
    )
    metadata_ttl = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=30 * 24 * 3600,
        help_text=_(
            "Seconds a branch, tag or PR ref -> commit answer is reused before upstream is asked "
            "again (default 300). Commit-pinned answers are cached forever."
        ),
    )
    metadata_timeout = serializers.FloatField(
        required=False,
        min_value=0.5,
        max_value=300,
        help_text=_("Seconds to wait for an upstream metadata answer (default 8)."),
    )

    allow_repos = _patterns_field(
        _(
            "Repo ids that may be pulled through: globs like 'org/*' or regular expressions "
            "written 're:<pattern>'. Empty: every repo (that no deny rule names)."
        )
    )
    deny_repos = _patterns_field(
        _("Repo ids that are refused (globs or 're:' regexes); a deny rule wins over allow.")
    )
    allow_files = _patterns_field(
        _("File paths that may be pulled through (fnmatch globs, e.g. '*.safetensors').")
    )
    deny_files = _patterns_field(
        _("File paths that are refused (fnmatch globs, e.g. '*.bin', '*.pkl', '*.ckpt').")
    )
    max_file_size = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        help_text=_("Bytes; a larger file is refused (403). Null: no limit."),
    )
    repo_types = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text=_("Repo types served: any of 'model', 'dataset', 'space' (default all)."),
    )
    max_size = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        help_text=_(
            "Bytes this remote's cached files may take; least recently used files are evicted "
            "beyond it. Null: no limit."
        ),
    )
    max_unused_age = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=100 * 365,
        help_text=_("Days; files not asked for in that time are evicted. Null: kept."),
    )
    used_bytes = serializers.SerializerMethodField(
        help_text=_("Bytes of the files this remote holds in the cache.")
    )
    file_count = serializers.SerializerMethodField(
        help_text=_("How many files this remote holds in the cache.")
    )
    last_eviction = serializers.DateTimeField(
        read_only=True, help_text=_("When the last eviction task finished (null: never).")
    )

    def _usage(self, remote):
        cached = getattr(remote, "_usage", None)
        if cached is None:
            cached = remote._usage = storage.usage(remote)
        return cached

    def get_used_bytes(self, remote) -> int:
        return self._usage(remote).bytes

    def get_file_count(self, remote) -> int:
        return self._usage(remote).files

    def _validate_with(self, check, value):
        try:
            return check(value)
        except policy.PolicyError as exc:
            raise serializers.ValidationError(str(exc))

    def validate_allow_repos(self, value):
        return self._validate_with(policy.validate_repo_patterns, value)

    def validate_deny_repos(self, value):
        return self._validate_with(policy.validate_repo_patterns, value)

    def validate_allow_files(self, value):
        return self._validate_with(policy.validate_file_patterns, value)

    def validate_deny_files(self, value):
        return self._validate_with(policy.validate_file_patterns, value)

    def validate_repo_types(self, value):
        return self._validate_with(policy.validate_repo_types, value)

    def validate_url(self, url):
        url = super().validate_url(url)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise serializers.ValidationError(_("The hub URL must be an http(s) URL."))
        if parts.query or parts.fragment:
            raise serializers.ValidationError(_("The hub URL cannot have a query or fragment."))
        return url.rstrip("/")

    def validate_hf_token(self, token):
        return token or None

    class Meta:
        fields = core_serializers.RemoteSerializer.Meta.fields + (
            "hf_token",
            "metadata_ttl",
            "metadata_timeout",
            "allow_repos",
            "deny_repos",
            "allow_files",
            "deny_files",
            "max_file_size",
            "repo_types",
            "max_size",
            "max_unused_age",
            "used_bytes",
            "file_count",
            "last_eviction",
        )
        model = models.HuggingFaceRemote


class HuggingFaceTokenContentGuardSerializer(core_serializers.ContentGuardSerializer):
    """Protects a distribution: clients must send one of these tokens (HF_TOKEN)."""

    tokens = serializers.ListField(
        child=serializers.CharField(min_length=8, max_length=512, trim_whitespace=True),
        write_only=True,
        required=False,
        allow_empty=False,
        help_text=_(
            "Tokens clients may send as 'Authorization: Bearer <token>' (what huggingface_hub "
            "does with HF_TOKEN). Write-only: only their sha256 digests are stored."
        ),
    )
    token_count = serializers.SerializerMethodField(help_text=_("How many tokens are accepted."))

    def get_token_count(self, obj) -> int:
        return len(obj.token_digests)

    def validate(self, data):
        data = super().validate(data)
        if "tokens" in data:
            data["token_digests"] = sorted({models.token_digest(t) for t in data.pop("tokens")})
        elif not self.partial:
            raise serializers.ValidationError({"tokens": _("At least one token is required.")})
        return data

    class Meta:
        fields = core_serializers.ContentGuardSerializer.Meta.fields + ("tokens", "token_count")
        model = models.HuggingFaceTokenContentGuard


class HuggingFaceRepositorySerializer(core_serializers.RepositorySerializer):
    """Records files pulled through a distribution as repository versions."""

    class Meta:
        fields = core_serializers.RepositorySerializer.Meta.fields
        model = models.HuggingFaceRepository


class HuggingFaceDistributionSerializer(core_serializers.DistributionSerializer):
    """Serves the Hub protocol; point HF_ENDPOINT at its base_url."""

    remote = core_serializers.DetailRelatedField(
        required=False,
        help_text=_("The Hugging Face remote the cache pulls through."),
        view_name_pattern=r"remotes(-.*/.*)?-detail",
        queryset=models.HuggingFaceRemote.objects.all(),
        allow_null=True,
    )

    class Meta:
        fields = core_serializers.DistributionSerializer.Meta.fields + ("remote",)
        model = models.HuggingFaceDistribution


class CacheRepoStatsSerializer(serializers.Serializer):
    repo_type = serializers.CharField()
    repo_id = serializers.CharField()
    file_count = serializers.IntegerField()
    bytes = serializers.IntegerField()


class CacheFactsSerializer(serializers.Serializer):
    files_known = serializers.IntegerField(help_text=_("Files whose metadata the hub gave."))
    files_missing = serializers.IntegerField(
        help_text=_("Paths the hub said do not exist (EntryNotFound), answered without asking.")
    )
    revisions = serializers.IntegerField(help_text=_("Branch/tag -> commit answers kept."))
    api_answers = serializers.IntegerField(help_text=_("Hub API answers kept."))


class CacheRequestsSerializer(serializers.Serializer):
    hit = serializers.IntegerField(help_text=_("File answers from storage or from known facts."))
    miss = serializers.IntegerField(help_text=_("File answers that needed the hub."))
    stale = serializers.IntegerField(
        help_text=_("File answers from the cache while the hub was unavailable.")
    )
    total = serializers.IntegerField()
    hit_ratio = serializers.FloatField(
        allow_null=True, help_text=_("(hit + stale) / total; null before any answer.")
    )


class CacheBytesServedSerializer(serializers.Serializer):
    storage = serializers.IntegerField(help_text=_("File bytes sent from storage."))
    upstream = serializers.IntegerField(help_text=_("File bytes sent as they came from the hub."))


class CacheStatsSerializer(serializers.Serializer):
    """What the cache of one remote (or of every remote in the domain) holds."""

    remote_count = serializers.IntegerField()
    file_count = serializers.IntegerField(help_text=_("Files stored (one per path and commit)."))
    repo_count = serializers.IntegerField()
    bytes = serializers.IntegerField(help_text=_("Sum of the stored files' sizes."))
    stored_bytes = serializers.IntegerField(
        help_text=_("Bytes in artifact storage: identical files are stored once.")
    )
    deduplicated_bytes = serializers.IntegerField(
        help_text=_("bytes - stored_bytes: what storing identical files once saves.")
    )
    facts = CacheFactsSerializer()
    top_repos = CacheRepoStatsSerializer(many=True)
    requests = CacheRequestsSerializer(
        help_text=_("HEAD and GET answers for files (resolve), counted by every content app.")
    )
    bytes_served = CacheBytesServedSerializer()
    bytes_saved = serializers.IntegerField(
        help_text=_("Bytes clients got from storage instead of from the hub.")
    )
    counting_since = serializers.DateTimeField(
        allow_null=True, help_text=_("When the first counted answer was made.")
    )


class PrefetchRepoSerializer(serializers.Serializer):
    """One Hub repo at one revision to prefetch, with snapshot_download's file patterns."""

    repo_type = serializers.ChoiceField(choices=hub.REPO_TYPES, default=hub.MODEL)
    repo_id = serializers.CharField(max_length=hub.MAX_REPO_NAME_LENGTH * 2 + 1)
    revision = serializers.CharField(default="main", max_length=hub.MAX_REVISION_LENGTH)
    allow_patterns = serializers.ListField(
        child=serializers.CharField(max_length=hub.MAX_FILENAME_LENGTH),
        required=False,
        max_length=1000,
        help_text=_("Only files matching one of these fnmatch patterns ('dir/' = a folder)."),
    )
    ignore_patterns = serializers.ListField(
        child=serializers.CharField(max_length=hub.MAX_FILENAME_LENGTH),
        required=False,
        max_length=1000,
        help_text=_("No file matching one of these fnmatch patterns."),
    )

    def _checked(self, check, value):
        try:
            return check(value)
        except hub.HubError as error:
            raise serializers.ValidationError(error.message)

    def validate_repo_id(self, repo_id):
        return self._checked(hub.validate_repo_id, repo_id)

    def validate_revision(self, revision):
        return self._checked(hub.validate_revision, revision)


class PrefetchSerializer(serializers.Serializer):
    """What a prefetch (`sync`) mirrors into one new repository version."""

    remote = core_serializers.DetailRelatedField(
        required=False,
        view_name_pattern=r"remotes(-.*/.*)?-detail",
        queryset=models.HuggingFaceRemote.objects.all(),
        help_text=_("The remote to fetch from; default: the repository's remote."),
    )
    repos = PrefetchRepoSerializer(many=True, allow_empty=False, max_length=100)

    def validate(self, data):
        data = super().validate(data)
        remote = data.get("remote") or self.context["repository"].remote
        if remote is None:
            raise serializers.ValidationError(
                {"remote": _("No remote given and the repository has none.")}
            )
        remote = remote.cast()
        if not isinstance(remote, models.HuggingFaceRemote):
            raise serializers.ValidationError({"remote": _("Not a Hugging Face remote.")})
        if remote.pulp_domain_id != self.context["repository"].pulp_domain_id:
            raise serializers.ValidationError({"remote": _("The remote is in another domain.")})
        # A repo the remote's rules refuse: a 400 naming the rule, no task, no upstream call.
        refused = [
            denial.message
            for spec in data["repos"]
            if (denial := policy.check(remote, spec["repo_type"], spec["repo_id"]))
        ]
        if refused:
            raise serializers.ValidationError({"repos": refused})
        data["remote"] = remote
        return data
