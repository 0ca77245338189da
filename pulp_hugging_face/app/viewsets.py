from django_filters import CharFilter
from drf_spectacular.utils import extend_schema
from rest_framework import decorators

from pulpcore.plugin import viewsets as core_viewsets
from pulpcore.plugin.actions import ModifyRepositoryActionMixin
from pulpcore.plugin.serializers import AsyncOperationResponseSerializer
from pulpcore.plugin.viewsets import OperationPostponedResponse

from . import models, serializers, storage


def _access_policy(model_name, extra_object_actions=()):
    """The standard Pulp RBAC policy: creator owns the object, owner/viewer roles per object."""
    perm = f"hugging_face.{{}}_{model_name}"
    statements = [
        {"action": ["list", "my_permissions"], "principal": "authenticated", "effect": "allow"},
        {
            "action": ["retrieve"],
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


class HuggingFaceRemoteViewSet(core_viewsets.RemoteViewSet, core_viewsets.RolesMixin):
    """An upstream Hugging Face Hub; its token is write-only."""

    endpoint_name = "hugging_face"
    queryset = models.HuggingFaceRemote.objects.all()
    serializer_class = serializers.HuggingFaceRemoteSerializer
    queryset_filtering_required_permission = "hugging_face.view_huggingfaceremote"
    DEFAULT_ACCESS_POLICY = _access_policy(
        "huggingfaceremote", extra_object_actions=[("evict", "change_huggingfaceremote")]
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


class HuggingFaceRepositoryViewSet(
    core_viewsets.RepositoryViewSet, ModifyRepositoryActionMixin, core_viewsets.RolesMixin
):
    """Repository versions record what was pulled through a distribution."""

    endpoint_name = "hugging_face"
    queryset = models.HuggingFaceRepository.objects.exclude(user_hidden=True)
    serializer_class = serializers.HuggingFaceRepositorySerializer
    queryset_filtering_required_permission = "hugging_face.view_huggingfacerepository"
    DEFAULT_ACCESS_POLICY = _access_policy(
        "huggingfacerepository", extra_object_actions=[("modify", "modify_huggingfacerepository")]
    )
    LOCKED_ROLES = _locked_roles(
        "huggingfacerepository",
        extra_owner_permissions=(
            "modify_huggingfacerepository",
            "sync_huggingfacerepository",
            "repair_huggingfacerepository",
        ),
    )


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
