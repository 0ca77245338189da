from django_filters import CharFilter
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import decorators
from rest_framework import serializers as drf_serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from pulpcore.plugin import viewsets as core_viewsets
from pulpcore.plugin.actions import ModifyRepositoryActionMixin
from pulpcore.plugin.serializers import AsyncOperationResponseSerializer
from pulpcore.plugin.tasking import dispatch
from pulpcore.plugin.util import get_domain, get_objects_for_user
from pulpcore.plugin.viewsets import OperationPostponedResponse

from . import models, serializers, storage, tasks
from .cache_stats import DEFAULT_TOP, MAX_TOP, cache_stats


def _access_policy(model_name, extra_object_actions=(), read_actions=()):
    """The standard Pulp RBAC policy: creator owns the object, owner/viewer roles per object."""
    perm = f"hugging_face.{{}}_{model_name}"
    statements = [
        {"action": ["list", "my_permissions"], "principal": "authenticated", "effect": "allow"},
        {
            "action": ["retrieve", *read_actions],
            "principal": "authenticated",
            "effect": "allow",
            "condition": f"has_model_or_domain_or_obj_perms:{perm.format('view')}",
        },
        {
            "action": ["create"],
            "principal": "authenticated",
            "effect": "allow",
            "condition": f"has_model_or_domain_perms:{perm.format('add')}",
        },
        {
            "action": ["update", "partial_update", "set_label", "unset_label"],
            "principal": "authenticated",
            "effect": "allow",
            "condition": [
                f"has_model_or_domain_or_obj_perms:{perm.format('change')}",
                f"has_model_or_domain_or_obj_perms:{perm.format('view')}",
            ],
        },
        {
            "action": ["destroy"],
            "principal": "authenticated",
            "effect": "allow",
            "condition": [
                f"has_model_or_domain_or_obj_perms:{perm.format('delete')}",
                f"has_model_or_domain_or_obj_perms:{perm.format('view')}",
            ],
        },
        {
            "action": ["list_roles", "add_role", "remove_role"],
            "principal": "authenticated",
            "effect": "allow",
            "condition": [f"has_model_or_domain_or_obj_perms:{perm.format('manage_roles')}"],
        },
    ]
    for action, permission in extra_object_actions:
        statements.append(
            {
                "action": [action],
                "principal": "authenticated",
                "effect": "allow",
                "condition": [
                    f"has_model_or_domain_or_obj_perms:hugging_face.{permission}",
                    f"has_model_or_domain_or_obj_perms:{perm.format('view')}",
                ],
            }
        )
    return {
        "statements": statements,
        "creation_hooks": [
            {
                "function": "add_roles_for_object_creator",
                "parameters": {"roles": f"hugging_face.{model_name}_owner"},
            }
        ],
        "queryset_scoping": {"function": "scope_queryset"},
    }


def _locked_roles(model_name, extra_owner_permissions=()):
    perm = f"hugging_face.{{}}_{model_name}"
    return {
        f"hugging_face.{model_name}_creator": [perm.format("add")],
        f"hugging_face.{model_name}_owner": [
            perm.format("view"),
            perm.format("change"),
            perm.format("delete"),
            perm.format("manage_roles"),
            *(f"hugging_face.{p}" for p in extra_owner_permissions),
        ],
        f"hugging_face.{model_name}_viewer": [perm.format("view")],
    }


class HuggingFaceContentFilter(core_viewsets.ContentFilter):
    repo_id = CharFilter(field_name="repo_id")
    commit = CharFilter(field_name="commit")

    class Meta:
        model = models.HuggingFaceContent
        fields = ["repo_type", "repo_id", "commit", "path", "sha256"]


class HuggingFaceContentViewSet(core_viewsets.ReadOnlyContentViewSet):
    """Files pulled through the cache. Read-only: content arrives by pull-through."""

    endpoint_name = "hugging_face"
    queryset = models.HuggingFaceContent.objects.prefetch_related("_artifacts")
    serializer_class = serializers.HuggingFaceContentSerializer
    filterset_class = HuggingFaceContentFilter

    DEFAULT_ACCESS_POLICY = {
        "statements": [
            {"action": ["list", "retrieve"], "principal": "authenticated", "effect": "allow"},
            {
                "action": ["set_label", "unset_label"],
                "principal": "authenticated",
                "effect": "allow",
                "condition": ["has_model_or_domain_perms:core.manage_content_labels"],
            },
        ],
        "queryset_scoping": {"function": "scope_queryset"},
    }


TOP_PARAMETER = OpenApiParameter(
    "top", int, description=f"How many repos to list by bytes (default {DEFAULT_TOP})."
)


def _top(request):
    field = drf_serializers.IntegerField(min_value=1, max_value=MAX_TOP, required=False)
    value = request.query_params.get("top")
    if value is None:
        return DEFAULT_TOP
    try:
        return field.run_validation(value)
    except drf_serializers.ValidationError as exc:
        raise drf_serializers.ValidationError({"top": exc.detail})


_CONTENT_READ_POLICY = HuggingFaceContentViewSet.DEFAULT_ACCESS_POLICY


class HuggingFaceRevisionFilter(core_viewsets.ContentFilter):
    repo_id = CharFilter(field_name="repo_id")

    class Meta:
        model = models.HuggingFaceRevision
        fields = ["repo_type", "repo_id", "revision", "commit"]


class HuggingFaceMetadataFilter(core_viewsets.ContentFilter):
    repo_id = CharFilter(field_name="repo_id")

    class Meta:
        model = models.HuggingFaceMetadata
        fields = ["repo_type", "repo_id", "commit", "endpoint"]


class HuggingFaceRevisionViewSet(core_viewsets.ReadOnlyContentViewSet):
    """Revision -> commit mappings that prefetch recorded in repository versions."""

    endpoint_name = "revisions"
    queryset = models.HuggingFaceRevision.objects.all()
    serializer_class = serializers.HuggingFaceRevisionSerializer
    filterset_class = HuggingFaceRevisionFilter
    DEFAULT_ACCESS_POLICY = _CONTENT_READ_POLICY


class HuggingFaceMetadataViewSet(core_viewsets.ReadOnlyContentViewSet):
    """Hub answers (info, tree, EntryNotFound) that prefetch recorded in repository versions."""

    endpoint_name = "metadata"
    queryset = models.HuggingFaceMetadata.objects.all()
    serializer_class = serializers.HuggingFaceMetadataSerializer
    filterset_class = HuggingFaceMetadataFilter
    DEFAULT_ACCESS_POLICY = _CONTENT_READ_POLICY


class HuggingFaceRemoteViewSet(core_viewsets.RemoteViewSet, core_viewsets.RolesMixin):
    """An upstream Hugging Face Hub; its token is write-only."""

    endpoint_name = "hugging_face"
    queryset = models.HuggingFaceRemote.objects.all()
    serializer_class = serializers.HuggingFaceRemoteSerializer
    queryset_filtering_required_permission = "hugging_face.view_huggingfaceremote"
    DEFAULT_ACCESS_POLICY = _access_policy(
        "huggingfaceremote",
        extra_object_actions=[("evict", "change_huggingfaceremote")],
        read_actions=["cache_stats"],
    )
    LOCKED_ROLES = _locked_roles("huggingfaceremote")

    @extend_schema(
        description="Evict the least recently used files until the remote is under its "
        "max_size and max_unused_age (files of frozen repository versions stay).",
        summary="Evict files",
        request=None,
        responses={202: AsyncOperationResponseSerializer},
    )
    @decorators.action(detail=True, methods=["post"])
    def evict(self, request, pk):
        remote = self.get_object()
        return OperationPostponedResponse(storage.dispatch_eviction(remote), request)

    @extend_schema(
        summary="Cache statistics",
        description="What this remote's cache holds: files, bytes, facts, top repos by bytes.",
        parameters=[TOP_PARAMETER],
        responses={200: serializers.CacheStatsSerializer},
    )
    # filter_backends: `top` is not a filter of remotes (pulpcore refuses unknown filters).
    @decorators.action(
        detail=True,
        methods=["get"],
        serializer_class=serializers.CacheStatsSerializer,
        filter_backends=[],
    )
    def cache_stats(self, request, pk=None):
        remote = self.get_object()
        top = _top(request)
        stats = cache_stats(models.HuggingFaceRemote.objects.filter(pk=remote.pk), top)
        return Response(serializers.CacheStatsSerializer(stats).data)


class DomainCacheStatsView(APIView):
    """Cache statistics over every Hugging Face remote of the domain the user may view.

    Any authenticated user: the answer covers only the remotes their roles let them view.
    """

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="hugging_face_cache_stats_read",
        summary="Cache statistics of the domain",
        description="Totals over the Hugging Face remotes of this domain that the user can view.",
        parameters=[TOP_PARAMETER],
        responses={200: serializers.CacheStatsSerializer},
        tags=["Hugging Face: Cache"],
    )
    def get(self, request, **kwargs):
        top = _top(request)
        remotes = get_objects_for_user(
            request.user,
            "hugging_face.view_huggingfaceremote",
            models.HuggingFaceRemote.objects.filter(pulp_domain=get_domain()),
        )
        return Response(serializers.CacheStatsSerializer(cache_stats(remotes, top)).data)


class HuggingFaceRepositoryViewSet(
    core_viewsets.RepositoryViewSet, ModifyRepositoryActionMixin, core_viewsets.RolesMixin
):
    """Repository versions record what was pulled through a distribution."""

    endpoint_name = "hugging_face"
    queryset = models.HuggingFaceRepository.objects.exclude(user_hidden=True)
    serializer_class = serializers.HuggingFaceRepositorySerializer
    queryset_filtering_required_permission = "hugging_face.view_huggingfacerepository"
    DEFAULT_ACCESS_POLICY = _access_policy(
        "huggingfacerepository",
        extra_object_actions=[
            ("modify", "modify_huggingfacerepository"),
            ("sync", "sync_huggingfacerepository"),
        ],
    )
    LOCKED_ROLES = _locked_roles(
        "huggingfacerepository",
        extra_owner_permissions=(
            "modify_huggingfacerepository",
            "sync_huggingfacerepository",
            "repair_huggingfacerepository",
        ),
    )

    @extend_schema(
        description="Prefetch Hub repos at revisions into one new repository version: every "
        "selected file and the metadata to answer clients without upstream.",
        summary="Prefetch (sync) Hub repos",
        request=serializers.PrefetchSerializer,
        responses={202: AsyncOperationResponseSerializer},
    )
    @decorators.action(
        detail=True, methods=["post"], serializer_class=serializers.PrefetchSerializer
    )
    def sync(self, request, pk):
        repository = self.get_object()
        serializer = serializers.PrefetchSerializer(
            data=request.data, context={"request": request, "repository": repository}
        )
        serializer.is_valid(raise_exception=True)
        remote = serializer.validated_data["remote"]
        repos = [dict(spec) for spec in serializer.validated_data["repos"]]
        task = dispatch(
            tasks.prefetch,
            exclusive_resources=[repository],
            shared_resources=[remote],
            kwargs={
                "repository_pk": str(repository.pk),
                "remote_pk": str(remote.pk),
                "repos": repos,
            },
        )
        return core_viewsets.OperationPostponedResponse(task, request)


REPOSITORY_PERMS = "has_repository_model_or_domain_or_obj_perms"


class HuggingFaceRepositoryVersionViewSet(core_viewsets.RepositoryVersionViewSet):
    parent_viewset = HuggingFaceRepositoryViewSet

    DEFAULT_ACCESS_POLICY = {
        "statements": [
            {
                "action": ["list", "retrieve"],
                "principal": "authenticated",
                "effect": "allow",
                "condition": f"{REPOSITORY_PERMS}:hugging_face.view_huggingfacerepository",
            },
            {
                "action": ["destroy"],
                "principal": "authenticated",
                "effect": "allow",
                "condition": [
                    f"{REPOSITORY_PERMS}:hugging_face.delete_huggingfacerepository",
                    f"{REPOSITORY_PERMS}:hugging_face.view_huggingfacerepository",
                ],
            },
        ],
    }


class HuggingFaceTokenContentGuardViewSet(
    core_viewsets.ContentGuardViewSet, core_viewsets.RolesMixin
):
    """Protects distributions with client tokens sent the Hub way (HF_TOKEN)."""

    endpoint_name = "token"
    queryset = models.HuggingFaceTokenContentGuard.objects.all()
    serializer_class = serializers.HuggingFaceTokenContentGuardSerializer
    queryset_filtering_required_permission = "hugging_face.view_huggingfacetokencontentguard"
    DEFAULT_ACCESS_POLICY = _access_policy("huggingfacetokencontentguard")
    LOCKED_ROLES = _locked_roles("huggingfacetokencontentguard")


class HuggingFaceDistributionViewSet(core_viewsets.DistributionViewSet, core_viewsets.RolesMixin):
    """Serves the Hub protocol at its base_url: set HF_ENDPOINT to it."""

    endpoint_name = "hugging_face"
    queryset = models.HuggingFaceDistribution.objects.all()
    serializer_class = serializers.HuggingFaceDistributionSerializer
    queryset_filtering_required_permission = "hugging_face.view_huggingfacedistribution"
    DEFAULT_ACCESS_POLICY = _access_policy("huggingfacedistribution")
    LOCKED_ROLES = _locked_roles("huggingfacedistribution")
